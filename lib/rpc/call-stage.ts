/**
 * How far a call got. Connect-ES decodes the request between the request
 * gate and the implementation and reports a compressed frame nobody
 * negotiated, or bytes that are not the request message, as INTERNAL (as
 * grpc-go does). This service keeps INTERNAL for its own bugs, so the
 * gateway needs to know that an error arose in exactly that window.
 */
import { type ContextValues, createContextKey } from "@connectrpc/connect";

export type CallStage = "headers" | "decoding" | "invoked";

const stageKey = createContextKey<CallStage>("headers", { description: "call stage" });

export function markStage(values: ContextValues, stage: CallStage): void {
  values.set(stageKey, stage);
}

export function stageOf(values: ContextValues): CallStage {
  return values.get(stageKey);
}
