/* Generated from schemas/http/health-response.json by `npm run generate`. Do not edit. */

/**
 * `GET /health` and `GET /ready` response.
 */
export interface HealthResponse {
  /**
   * Named checks and their state, for `/ready`.
   */
  checks?: {
    [k: string]: string;
  };
  /**
   * `ok`, or `unavailable` (with 503) when not ready.
   */
  status: string;
}
