/**
 * Expand before the code that needs it (called by scripts/deploy.sh):
 *
 *   tsx scripts/migrate-first.ts <function name> <packaged migrate zip>
 *
 * When the stage already runs, the packaged migrate code goes onto its
 * migrate Lambda alone and is invoked, so the database has the new schema and
 * SQL functions before the stack deploy ships the api that calls them. Only
 * the code changes: configuration stays as deployed until the stack deploy.
 * Exits 0 without doing anything when the function does not exist yet (a
 * stage's first deploy), non-zero when the migration fails.
 *
 * The AWS SDK directly, because the framework's single-function deploy
 * cannot update a function whose role is a resource of the stack.
 */
import { readFile } from "node:fs/promises";
import {
  GetFunctionCommand,
  InvokeCommand,
  LambdaClient,
  ResourceNotFoundException,
  UpdateFunctionCodeCommand,
  waitUntilFunctionUpdatedV2,
} from "@aws-sdk/client-lambda";
import { lambdaClientConfig } from "../lib/config.ts";

const [functionName, zipPath] = process.argv.slice(2);
if (!functionName || !zipPath) {
  console.error("usage: tsx scripts/migrate-first.ts <function name> <packaged migrate zip>");
  process.exit(2);
}

// serverless.ts deploys to us-east-1; AWS_REGION overrides as it does for the SDK.
const lambda = new LambdaClient({ region: lambdaClientConfig(process.env).region });
try {
  try {
    await lambda.send(new GetFunctionCommand({ FunctionName: functionName }));
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
    console.log(`deploy: ${functionName} does not exist yet; migrating after the stack deploy`);
    process.exit(0);
  }
  console.log(`deploy: updating ${functionName} and migrating before the stack deploy`);
  await lambda.send(
    new UpdateFunctionCodeCommand({ FunctionName: functionName, ZipFile: await readFile(zipPath) }),
  );
  await waitUntilFunctionUpdatedV2({ client: lambda, maxWaitTime: 300 }, { FunctionName: functionName });
  const out = await lambda.send(
    new InvokeCommand({ FunctionName: functionName, Payload: new TextEncoder().encode("{}") }),
  );
  const answer = new TextDecoder().decode(out.Payload);
  console.log(answer);
  if (out.FunctionError) {
    console.error(`deploy: ${functionName} failed (${out.FunctionError}); nothing else was deployed`);
    process.exit(1);
  }
} finally {
  lambda.destroy();
}
