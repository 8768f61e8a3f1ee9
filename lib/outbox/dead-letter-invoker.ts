import type { LambdaClient } from "@aws-sdk/client-lambda";
import type { DeadLetterEnvelope } from "../events/envelope.ts";
import { invokeAsync } from "./async-invoke.ts";

/** Hands an undeliverable event to the dead-letter function; resolves only once it was accepted. */
export interface DeadLetterInvoker {
  deadLetter(envelope: DeadLetterEnvelope): Promise<void>;
}

export class LambdaDeadLetterInvoker implements DeadLetterInvoker {
  constructor(
    private readonly client: LambdaClient,
    private readonly functionName: string,
  ) {}

  deadLetter(envelope: DeadLetterEnvelope): Promise<void> {
    return invokeAsync(this.client, this.functionName, envelope);
  }
}
