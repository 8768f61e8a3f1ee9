/**
 * The product's metrics, as CloudWatch Embedded Metric Format lines written
 * by Powertools Metrics (stdout; CloudWatch Logs turns them into metrics, and
 * locally they are plain JSON lines). Dimensions are low-cardinality only:
 * method, gRPC code, status, reason, event type — never an account or id.
 */
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";

export type Dimensions = Record<string, string>;

/** What the rest of the code records through; one per container. */
export interface MetricsRecorder {
  count(name: string, dimensions: Dimensions, value?: number): void;
  milliseconds(name: string, dimensions: Dimensions, value: number): void;
}

/**
 * Each call writes one EMF line with exactly its own dimension set, so
 * metrics with different dimensions never share (and multiply) each other's.
 * One Metrics instance adds and publishes each at once (publishing clears
 * what was added): Powertools' singleMetric() would build a new instance, its
 * console included, for every line, ~75 µs a line (BENCHMARKS.md, gateway).
 */
export class EmfMetrics implements MetricsRecorder {
  readonly #metrics: Metrics;

  constructor(options: { namespace: string; serviceName: string; functionName: string }) {
    this.#metrics = new Metrics({
      namespace: options.namespace,
      serviceName: options.serviceName,
      defaultDimensions: { function: options.functionName },
    });
  }

  count(name: string, dimensions: Dimensions, value = 1): void {
    this.#emit(name, MetricUnit.Count, dimensions, value);
  }

  milliseconds(name: string, dimensions: Dimensions, value: number): void {
    this.#emit(name, MetricUnit.Milliseconds, dimensions, value);
  }

  #emit(
    name: string,
    unit: (typeof MetricUnit)[keyof typeof MetricUnit],
    dimensions: Dimensions,
    value: number,
  ): void {
    if (Object.keys(dimensions).length > 0) this.#metrics.addDimensions(dimensions);
    this.#metrics.addMetric(name, unit, value);
    this.#metrics.publishStoredMetrics();
  }
}
