/* Generated from schemas/events/system.json by `npm run generate`. Do not edit. */

/**
 * Events of the `system` channel.
 */
export type SystemEvent =
  | {
      data: SystemStatus;
      type: "system_startup";
    }
  | {
      data: SystemStatus;
      type: "system_shutdown";
    }
  | {
      data: SystemHealth;
      type: "system_health";
    }
  | {
      data: SystemAlert;
      type: "system_alert";
    };

/**
 * `system_startup` and `system_shutdown`.
 */
export interface SystemStatus {
  /**
   * The node that started or is stopping (`node_id` of `/api/ws/info`).
   * **[server]** `system_startup` is published to the whole cluster once
   * the node's broker is up; `system_shutdown` goes to the stopping
   * node's own connections only and is not kept in history.
   */
  node_id?: string | null;
  /**
   * `started`, `stopping`, ...
   */
  status: string;
}
/**
 * `system_health`: the health report's fields, flattened.
 */
export interface SystemHealth {
  [k: string]: unknown;
}
/**
 * `system_alert`.
 */
export interface SystemAlert {
  /**
   * Details.
   */
  details?: unknown;
  /**
   * `info`, `warning`, `error`, `critical`.
   */
  level: string;
  /**
   * What happened.
   */
  message: string;
}
