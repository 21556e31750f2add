// Validates every object of the given multi-document YAML files (e.g. `kubectl kustomize` output) against
// the schema of its kind, offline:
// - built-in kinds: the validators that kubernetes-models generates from the Kubernetes OpenAPI document;
// - KEDA and Prometheus Operator kinds: the validators that @kubernetes-models/keda and
//   @kubernetes-models/prometheus-operator generate from the CRDs' openAPIV3Schema, plus a check of field names
//   (a CRD schema does not reject unknown fields; the API server prunes them);
// - the kinds of the CRDs checked in under crds/ (CloudNativePG, its Barman Cloud plugin, the RabbitMQ Cluster
//   Operator): their openAPIV3Schema with ajv, every object that lists its properties closed to others, so that
//   an unknown field fails here instead of being pruned by the API server. CEL rules are not evaluated.
// An object of a kind without a schema is a failure. Prints one line per object; exits 1 on any failure.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import Ajv from "ajv";
import { parse, parseAllDocuments } from "yaml";

// Field names of the custom resources Tally uses, from their CRDs (KEDA 2.x, Prometheus Operator).
const customFields = {
  ScaledObject: {
    "": ["apiVersion", "kind", "metadata", "spec"],
    spec: ["scaleTargetRef", "pollingInterval", "initialCooldownPeriod", "cooldownPeriod", "idleReplicaCount", "minReplicaCount", "maxReplicaCount", "advanced", "triggers", "fallback"],
    "spec.scaleTargetRef": ["apiVersion", "kind", "name", "envSourceContainerName"],
    "spec.advanced": ["restoreToOriginalReplicaCount", "horizontalPodAutoscalerConfig", "scalingModifiers"],
    "spec.advanced.horizontalPodAutoscalerConfig": ["name", "behavior"],
    "spec.fallback": ["failureThreshold", "replicas", "behavior"],
    "spec.triggers[]": ["type", "name", "metadata", "authenticationRef", "metricType", "useCachedMetrics"],
    "spec.triggers[].authenticationRef": ["name", "kind"],
  },
  TriggerAuthentication: {
    "": ["apiVersion", "kind", "metadata", "spec"],
    spec: ["podIdentity", "secretTargetRef", "env", "configMapTargetRef", "hashiCorpVault", "azureKeyVault", "gcpSecretManager", "awsSecretManager", "boundServiceAccountToken"],
    "spec.secretTargetRef[]": ["parameter", "name", "key"],
    "spec.configMapTargetRef[]": ["parameter", "name", "key"],
    "spec.env[]": ["parameter", "name", "containerName"],
  },
  PodMonitor: {
    "": ["apiVersion", "kind", "metadata", "spec"],
    spec: ["selector", "namespaceSelector", "podMetricsEndpoints", "jobLabel", "podTargetLabels", "sampleLimit", "targetLimit", "labelLimit", "labelNameLengthLimit", "labelValueLengthLimit", "attachMetadata", "scrapeProtocols", "scrapeClass", "bodySizeLimit", "keepDroppedTargets", "fallbackScrapeProtocol", "scrapeClassicHistograms", "nativeHistogramBucketLimit", "nativeHistogramMinBucketFactor", "convertClassicHistogramsToNHCB", "selectorMechanism"],
    "spec.podMetricsEndpoints[]": ["port", "portNumber", "targetPort", "path", "scheme", "params", "interval", "scrapeTimeout", "honorLabels", "honorTimestamps", "trackTimestampsStaleness", "metricRelabelings", "relabelings", "proxyUrl", "followRedirects", "enableHttp2", "filterRunning", "basicAuth", "oauth2", "authorization", "bearerTokenSecret", "tlsConfig", "noProxy", "proxyFromEnvironment", "proxyConnectHeader"],
    "spec.podMetricsEndpoints[].relabelings[]": ["sourceLabels", "separator", "targetLabel", "regex", "modulus", "replacement", "action"],
  },
};

function unknownFields(object, allowed) {
  const errors = [];
  const visit = (value, path) => {
    if (Array.isArray(value)) {
      value.forEach((item) => visit(item, path + "[]"));
      return;
    }
    const names = allowed[path];
    if (!names || value === null || typeof value !== "object") {
      return;
    }
    for (const key of Object.keys(value)) {
      if (!names.includes(key)) {
        errors.push(`${path || "(root)"}: unknown field "${key}"`);
      } else {
        visit(value[key], path ? `${path}.${key}` : key);
      }
    }
  };
  visit(object, "");
  return errors;
}

// The CRD schema as JSON Schema for ajv: the Kubernetes extensions and documentation dropped, and each object
// schema with `properties` (and neither `additionalProperties` nor x-kubernetes-preserve-unknown-fields)
// closed with additionalProperties: false.
function strictSchema(node) {
  if (Array.isArray(node)) {
    return node.map(strictSchema);
  }
  if (node === null || typeof node !== "object") {
    return node;
  }
  const schema = {};
  for (const [key, value] of Object.entries(node)) {
    if (key.startsWith("x-kubernetes-") || key === "description" || key === "default") {
      continue;
    }
    schema[key] = key === "properties"
      ? Object.fromEntries(Object.entries(value).map(([name, property]) => [name, strictSchema(property)]))
      : strictSchema(value);
  }
  if (schema.properties && schema.additionalProperties === undefined && node["x-kubernetes-preserve-unknown-fields"] !== true) {
    schema.additionalProperties = false;
  }
  return schema;
}

const ajv = new Ajv({ allErrors: true, strict: false });
ajv.addFormat("int32", { type: "number", validate: (n) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 });
ajv.addFormat("int64", { type: "number", validate: (n) => Number.isInteger(n) });
ajv.addFormat("date-time", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/i);

// "group/version/Kind" -> the openAPIV3Schema of every served version of every CRD under crds/, compiled on
// first use (the Cluster and RabbitmqCluster schemas take seconds).
const crdSchemas = new Map();
const crdValidators = new Map();
const crdFolder = join(dirname(fileURLToPath(import.meta.url)), "crds");
for (const file of readdirSync(crdFolder).filter((f) => f.endsWith(".yaml"))) {
  const crd = parse(readFileSync(join(crdFolder, file), "utf8"));
  for (const version of crd.spec.versions.filter((v) => v.served)) {
    crdSchemas.set(`${crd.spec.group}/${version.name}/${crd.spec.names.kind}`, version.schema.openAPIV3Schema);
  }
}

function crdValidatorFor(apiVersion, kind) {
  const key = `${apiVersion}/${kind}`;
  if (!crdValidators.has(key) && crdSchemas.has(key)) {
    crdValidators.set(key, ajv.compile(strictSchema(crdSchemas.get(key))));
  }
  return crdValidators.get(key);
}

function crdErrors(validate, object) {
  if (validate(object)) {
    return [];
  }
  const messages = validate.errors.map((error) => {
    const path = error.instancePath.replace(/^\//, "");
    return error.keyword === "additionalProperties"
      ? `${path || "(root)"}: unknown field "${error.params.additionalProperty}"`
      : `${path || "(root)"} ${error.message}`;
  });
  return [...new Set(messages)];
}

async function modelFor(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const path = group === "keda.sh"
    ? `@kubernetes-models/keda/keda.sh/${version}/${kind}`
    : group === "monitoring.coreos.com"
    ? `@kubernetes-models/prometheus-operator/monitoring.coreos.com/${version}/${kind}`
    : group === ""
      ? `kubernetes-models/${version}/${kind}`
      : `kubernetes-models/${group}/${version}/${kind}`;
  try {
    const module = await import(path);
    return module[kind];
  } catch {
    return undefined;
  }
}

let failures = 0;
let objects = 0;
for (const file of process.argv.slice(2)) {
  for (const document of parseAllDocuments(readFileSync(file, "utf8"))) {
    if (document.errors.length > 0) {
      failures++;
      console.log(`FAIL ${file}: YAML: ${document.errors.map((e) => e.message).join("; ")}`);
      continue;
    }
    const object = document.toJS();
    if (object === null || object === undefined) {
      continue;
    }
    objects++;
    const name = `${object.apiVersion}/${object.kind} ${object.metadata?.name ?? "(no name)"}`;
    const crdValidator = crdValidatorFor(object.apiVersion, object.kind);
    if (crdValidator) {
      const errors = crdErrors(crdValidator, object);
      if (typeof object.metadata?.name !== "string" || object.metadata.name.length === 0) {
        errors.push("metadata.name is missing");
      }
      if (errors.length > 0) {
        failures++;
        console.log(`FAIL ${name}: ${errors.join("; ")}`);
      } else {
        console.log(`ok ${name}`);
      }
      continue;
    }
    const Model = object.apiVersion && object.kind ? await modelFor(object.apiVersion, object.kind) : undefined;
    if (!Model) {
      failures++;
      console.log(`FAIL ${name}: no schema for this kind`);
      continue;
    }
    // kustomize folds long base64 values of a Secret over several lines; the API server's decoder (Go's
    // base64) skips line breaks, so the schema's "byte" format is checked on the value without them.
    if (object.apiVersion === "v1" && object.kind === "Secret" && object.data) {
      for (const key of Object.keys(object.data)) {
        object.data[key] = String(object.data[key]).replace(/[\r\n]/g, "");
      }
    }
    const errors = [];
    try {
      new Model(object).validate();
    } catch (error) {
      errors.push(error.message);
    }
    if (customFields[object.kind] && /^(keda\.sh|monitoring\.coreos\.com)\//.test(object.apiVersion)) {
      errors.push(...unknownFields(object, customFields[object.kind]));
    }
    if (errors.length > 0) {
      failures++;
      console.log(`FAIL ${name}: ${errors.join("; ")}`);
    } else {
      console.log(`ok ${name}`);
    }
  }
}
console.log(`${objects} objects, ${failures} failed`);
process.exit(failures > 0 || objects === 0 ? 1 : 0);
