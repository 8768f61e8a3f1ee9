import type { AsyncLambdaInvoker } from "../aws/lambda-invoker.ts";
import type { DeadLetterRequest } from "../events/dead-letter.ts";

/** Hands an undeliverable event to the dead-letter function; resolves only once it was accepted. */
export interface DeadLetterInvoker {
  deadLetter(request: DeadLetterRequest): Promise<void>;
}

export class LambdaDeadLetterInvoker implements DeadLetterInvoker {
  constructor(
    private readonly lambda: AsyncLambdaInvoker,
    private readonly functionName: string,
  ) {}

  deadLetter(request: DeadLetterRequest): Promise<void> {
    return this.lambda.invoke(this.functionName, request);
  }
}
