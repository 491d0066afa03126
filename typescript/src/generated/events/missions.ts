/* Generated from schemas/events/missions.json by `npm run generate`. Do not edit. */

/**
 * Events of the `missions` channel.
 */
export type MissionEvent =
  | {
      data: MissionCreated;
      type: "mission_created";
    }
  | {
      data: MissionRef;
      type: "mission_started";
    }
  | {
      data: MissionCompleted;
      type: "mission_completed";
    }
  | {
      data: MissionFailed;
      type: "mission_failed";
    }
  | {
      data: MissionCancelled;
      type: "mission_cancelled";
    };

/**
 * `mission_created`: the mission id plus the mission's own fields, flattened.
 */
export interface MissionCreated {
  /**
   * The mission.
   */
  mission_id: string;
  [k: string]: unknown;
}
/**
 * A payload naming only a mission.
 */
export interface MissionRef {
  /**
   * The mission.
   */
  mission_id: string;
}
/**
 * `mission_completed`.
 */
export interface MissionCompleted {
  /**
   * The mission.
   */
  mission_id: string;
  /**
   * What the mission produced.
   */
  result?: unknown;
}
/**
 * `mission_failed`.
 */
export interface MissionFailed {
  /**
   * Why it failed.
   */
  error: string;
  /**
   * The mission.
   */
  mission_id: string;
}
/**
 * `mission_cancelled`.
 */
export interface MissionCancelled {
  /**
   * The mission.
   */
  mission_id: string;
  /**
   * Why it was cancelled.
   */
  reason?: string | null;
}
