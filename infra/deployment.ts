/**
 * Which template this run of the framework builds: the stage, from the
 * command line, and what the shell adds to it. serverless.ts reads the
 * command line and the environment here, once; every other part of infra/
 * takes the resulting Deployment.
 */
import { read } from "../lib/config/declare.ts";
import { API_FUNCTION_URL } from "../lib/config/stage.ts";
import { SERVICE, STAGES, type Stage, type StageSettings, stageSettings } from "./stages.ts";

type Env = Readonly<Record<string, string | undefined>>;

export interface Deployment {
  stage: Stage;
  settings: StageSettings;
  /**
   * local stage only, set by localstack/deploy.sh (API_FUNCTION_URL=true): the api is served
   * through a Lambda function URL instead of the HTTP API. Community LocalStack has no API
   * Gateway v2, but serves function URLs with the same payload 2.0 event, so the function
   * behaves the same behind either. serverless offline and every AWS stage keep the HTTP API.
   */
  apiFunctionUrl: boolean;
  /**
   * The command is `serverless invoke local`: a function runs from the build folder in this
   * shell, not from its zip (infra/functions.ts points migrate at the SQL sources then).
   */
  invokeLocal: boolean;
}

export function deploymentFrom(argv: readonly string[], env: Env): Deployment {
  const stage = stageFromArgv(argv);
  const [command, subcommand] = commandWords(argv);
  return {
    stage,
    settings: stageSettings(stage, env),
    apiFunctionUrl: stage === "local" && read(env, API_FUNCTION_URL),
    invokeLocal: command === "invoke" && subcommand === "local",
  };
}

/** A function's deployed name, e.g. payment-ledger-dev-drainOutbox. */
export const functionName = (stage: Stage, key: string) => `${SERVICE}-${stage}-${key}`;

/**
 * The stage from the command line (--stage / -s, default local): the whole
 * shape differs per stage (VPC, parameters), not just values.
 */
function stageFromArgv(argv: readonly string[]): Stage {
  let stage = "local";
  argv.forEach((arg, i) => {
    if (arg === "--stage" || arg === "-s") stage = argv[i + 1] ?? stage;
    else if (arg.startsWith("--stage=")) stage = arg.slice("--stage=".length);
  });
  if (!(STAGES as readonly string[]).includes(stage)) {
    throw new Error(`unknown stage "${stage}": use one of ${STAGES.join(", ")}`);
  }
  return stage as Stage;
}

/** The words of the command before its first option: ["invoke", "local"] for `serverless invoke local -f api`. */
function commandWords(argv: readonly string[]): string[] {
  const words: string[] = [];
  for (const arg of argv.slice(2)) {
    if (arg.startsWith("-")) break;
    words.push(arg);
  }
  return words;
}
