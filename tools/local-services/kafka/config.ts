import { LISTENER, type ScramSetup, scramListenerProperties } from "./scram.ts";
import type { BrokerTls } from "./tls.ts";

export interface BrokerConfigInput {
  port: number;
  controllerPort: number;
  dataDir: string;
  host?: string;
  /** Clients (and the broker itself) log in with SASL/SCRAM on `port`... */
  scram: ScramSetup;
  /** ...over TLS with this certificate. */
  tls: BrokerTls;
  /**
   * Enforce ACLs (KRaft's StandardAuthorizer): only the admin is a super
   * user, and a login without a grant may do nothing. Default: every
   * authenticated login may do anything.
   */
  authorize?: boolean;
}

/**
 * server.properties for a single combined broker+controller KRaft node, run as
 * managed Kafka (MSK, Redpanda Cloud) runs: one SASL_SSL listener with SCRAM
 * logins, and topics only ever created on purpose. Tuned for fast tests.
 */
export function serverProperties({
  port,
  controllerPort,
  dataDir,
  host = "127.0.0.1",
  scram,
  tls,
  authorize = false,
}: BrokerConfigInput): string {
  // The controller listener stays PLAINTEXT: only this node talks to it, on 127.0.0.1.
  const listener = LISTENER;
  const props: Record<string, string | number | boolean> = {
    "process.roles": "broker,controller",
    "node.id": 1,
    // Static voters (not KIP-853 --standalone) keep format and restart trivially identical.
    "controller.quorum.voters": `1@${host}:${controllerPort}`,
    listeners: `${listener}://${host}:${port},CONTROLLER://${host}:${controllerPort}`,
    "advertised.listeners": `${listener}://${host}:${port}`,
    "controller.listener.names": "CONTROLLER",
    "inter.broker.listener.name": listener,
    "listener.security.protocol.map": `${listener}:${listener},CONTROLLER:PLAINTEXT`,
    ...scramListenerProperties(scram),
    ...tlsProperties(tls),
    ...(authorize && {
      "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
      // The admin (the broker logs in to itself as it), and the node's own PLAINTEXT controller
      // listener on 127.0.0.1, whose requests carry no login.
      "super.users": `User:${scram.admin.username};User:ANONYMOUS`,
      "allow.everyone.if.no.acl.found": false,
    }),
    "log.dirs": dataDir,

    "num.partitions": 3,
    "default.replication.factor": 1,
    "min.insync.replicas": 1,
    // As MSK and Redpanda Cloud are run: a topic nobody created is an error, never a default topic.
    "auto.create.topics.enable": false,
    "delete.topic.enable": true,
    "offsets.topic.replication.factor": 1,
    "transaction.state.log.replication.factor": 1,
    "transaction.state.log.min.isr": 1,
    // The defaults (50 partitions each) make the first consumer group / transaction take seconds.
    "offsets.topic.num.partitions": 3,
    "transaction.state.log.num.partitions": 3,
    "group.initial.rebalance.delay.ms": 0,

    // Sized for a 2-core CI box and a 512 MB heap.
    "num.network.threads": 2,
    "num.io.threads": 2,
    "num.recovery.threads.per.data.dir": 1,
    "background.threads": 2,
    "log.cleaner.threads": 1,
    "log.cleaner.dedupe.buffer.size": 8 * 1024 * 1024,
    "auto.leader.rebalance.enable": false,
  };
  return `${Object.entries(props)
    .map(([key, value]) => `${key}=${propertyValue(String(value))}`)
    .join("\n")}\n`;
}

/**
 * The listener's key and certificate, and the CA the broker trusts when it
 * connects to itself, inline as PEM text: no key store file, no store or
 * key password.
 */
function tlsProperties(tls: BrokerTls): Record<string, string> {
  return {
    "ssl.keystore.type": "PEM",
    "ssl.keystore.key": tls.key.trim(),
    "ssl.keystore.certificate.chain": tls.cert.trim(),
    "ssl.truststore.type": "PEM",
    "ssl.truststore.certificates": tls.ca.trim(),
    "ssl.client.auth": "none",
  };
}

/** A java.util.Properties value: line breaks as \n escapes (PEM text spans lines). */
function propertyValue(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

/** Sends all broker logging to one file so test output stays clean but failures can quote it. */
export function brokerLog4jProperties(logFile: string): string {
  return [
    "log4j.rootLogger=INFO, file",
    "log4j.appender.file=org.apache.log4j.FileAppender",
    `log4j.appender.file.File=${logFile}`,
    "log4j.appender.file.Append=true",
    "log4j.appender.file.layout=org.apache.log4j.PatternLayout",
    "log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n",
    // Per-partition state changes are noise at this scale.
    "log4j.logger.state.change.logger=WARN",
    "",
  ].join("\n");
}
