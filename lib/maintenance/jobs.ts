import type { HoldExpiryJob, HoldExpirySummary } from "./hold-expiry.ts";
import type { RetentionJob, RetentionSummary } from "./retention.ts";

export const MAINTENANCE_JOBS = ["holds", "retention"] as const;
export type MaintenanceJob = (typeof MAINTENANCE_JOBS)[number];

export interface MaintenanceSummary {
  holds?: HoldExpirySummary;
  retention?: RetentionSummary;
}

/**
 * Which jobs a scheduled event asks for: `{ "jobs": ["holds"] }` (every
 * minute: expiry is what a payer waits for) or every job when it names none
 * (the hourly schedule). An unknown job name is a deployment mistake: refused.
 */
export function jobsOf(event: unknown): MaintenanceJob[] {
  const jobs = typeof event === "object" && event !== null ? (event as { jobs?: unknown }).jobs : undefined;
  if (jobs === undefined) return [...MAINTENANCE_JOBS];
  if (!Array.isArray(jobs) || !jobs.every((job) => (MAINTENANCE_JOBS as readonly unknown[]).includes(job))) {
    throw new Error(
      `maintenance: jobs must be a list of ${MAINTENANCE_JOBS.join(", ")}, got ${JSON.stringify(jobs)}`,
    );
  }
  return jobs as MaintenanceJob[];
}

/** Runs the asked jobs in a fixed order: holds first, so a long retention run never delays an expiry. */
export async function runMaintenance(
  jobs: MaintenanceJob[],
  deps: { holds: HoldExpiryJob; retention: RetentionJob },
): Promise<MaintenanceSummary> {
  const summary: MaintenanceSummary = {};
  if (jobs.includes("holds")) summary.holds = await deps.holds.run();
  if (jobs.includes("retention")) summary.retention = await deps.retention.run();
  return summary;
}
