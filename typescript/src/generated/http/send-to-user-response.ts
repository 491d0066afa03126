/* Generated from schemas/http/send-to-user-response.json by `npm run generate`. Do not edit. */

/**
 * `POST /api/ws/users/{user_id}/send` response.
 */
export interface SendToUserResponse {
  /**
   * How many connections the user had (cluster-wide) when sent.
   */
  connections: number;
  /**
   * Always `sent`.
   */
  status: "sent";
  /**
   * The user addressed.
   */
  user_id: string;
}
