/* Generated from schemas/http/send-to-user-request.json by `npm run generate`. Do not edit. */

/**
 * `POST /api/ws/users/{user_id}/send` request.
 */
export interface SendToUserRequest {
  /**
   * The event payload.
   */
  data?: unknown;
  /**
   * The event type.
   */
  type: string;
}
