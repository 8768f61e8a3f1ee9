import type { AsyncLambdaInvoker } from "../aws/lambda-invoker.ts";
import type { DeadLetterEnvelope } from "../events/envelope.ts";

/** Hands an undeliverable event to the dead-letter function; resolves only once it was accepted. */
export interface DeadLetterInvoker {
  deadLetter(envelope: DeadLetterEnvelope): Promise<void>;
}

export class LambdaDeadLetterInvoker implements DeadLetterInvoker {
  constructor(
    private readonly lambda: AsyncLambdaInvoker,
    private readonly functionName: string,
  ) {}

  deadLetter(envelope: DeadLetterEnvelope): Promise<void> {
    return this.lambda.invoke(this.functionName, envelope);
  }
}
