/** What serverless.ts reads from the shell when it builds a template (infra/), besides the settings it forwards. */
import { boolean, declare, text } from "./declare.ts";

export const DRAIN_SCHEDULE = declare("DRAIN_SCHEDULE", text({ example: "rate(5 minutes)" }), {
  default: "rate(1 minute)",
  doc: "local stage only: the drain's schedule, a rate() or cron() expression, or off (tests that drain themselves).",
  readBy: ["serverless.ts"],
});

export const API_FUNCTION_URL = declare("API_FUNCTION_URL", boolean, {
  default: false,
  doc:
    "local stage only (localstack/deploy.sh sets it): serve the api through a Lambda function URL instead of " +
    "the HTTP API, which community LocalStack lacks.",
  readBy: ["serverless.ts"],
});

export const ESBUILD_WORK_FOLDER = declare("ESBUILD_WORK_FOLDER", text(), {
  default: ".esbuild",
  doc: "serverless-esbuild's build folder; two builds at once (tests, a running npm run dev) need one each.",
  readBy: ["serverless.ts"],
});
