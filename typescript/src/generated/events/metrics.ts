/* Generated from schemas/events/metrics.json by `npm run generate`. Do not edit. */

/**
 * Events of the `metrics` channel.
 */
export type MetricsEvent = {
  data: MetricsUpdate;
  type: "metrics_update";
};

/**
 * `metrics_update`: the metrics, flattened.
 */
export interface MetricsUpdate {
  [k: string]: unknown;
}
