/* Generated from schemas/events/audit.json by `npm run generate`. Do not edit. */

/**
 * Events of the `audit` channel.
 */
export type AuditEvent = {
  data: AuditLog;
  type: "audit_log";
};

/**
 * `audit_log`.
 */
export interface AuditLog {
  /**
   * What was done.
   */
  action: string;
  /**
   * Details.
   */
  details?: unknown;
  /**
   * To what.
   */
  resource: string;
  /**
   * Who did it.
   */
  user_id: string;
}
