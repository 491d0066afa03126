/* Generated from schemas/http/error-body.json by `npm run generate`. Do not edit. */

/**
 * The JSON body of every 4xx and 5xx HTTP answer.
 */
export interface ErrorBody {
  error: ErrorDetail;
}
/**
 * The error.
 */
export interface ErrorDetail {
  /**
   * What went wrong, for programs.
   */
  code: string;
  /**
   * What went wrong, for people.
   */
  message: string;
}
