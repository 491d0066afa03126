/* Generated from schemas/events/tasks.json by `npm run generate`. Do not edit. */

/**
 * Events of the `tasks` channel.
 */
export type TaskEvent =
  | {
      data: TaskRef;
      type: "task_queued";
    }
  | {
      data: TaskRef;
      type: "task_started";
    }
  | {
      data: TaskCompleted;
      type: "task_completed";
    }
  | {
      data: TaskFailed;
      type: "task_failed";
    };

/**
 * `task_queued` and `task_started`.
 */
export interface TaskRef {
  /**
   * The task.
   */
  task_id: string;
  /**
   * The task's kind, such as `send_email`.
   */
  task_name: string;
}
/**
 * `task_completed`.
 */
export interface TaskCompleted {
  /**
   * What it produced.
   */
  result?: unknown;
  /**
   * The task.
   */
  task_id: string;
  /**
   * The task's kind.
   */
  task_name: string;
}
/**
 * `task_failed`.
 */
export interface TaskFailed {
  /**
   * Why it failed.
   */
  error: string;
  /**
   * The task.
   */
  task_id: string;
  /**
   * The task's kind.
   */
  task_name: string;
}
