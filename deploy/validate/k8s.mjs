// Validates every object of the given multi-document YAML files (e.g. `kubectl kustomize` output) against
// the schema of its kind, offline:
// - built-in kinds: the validators that kubernetes-models generates from the Kubernetes OpenAPI document;
// - KEDA and Prometheus Operator kinds: the validators that @kubernetes-models/keda and
//   @kubernetes-models/prometheus-operator generate from the CRDs' openAPIV3Schema, plus a check of field names
//   (a CRD schema does not reject unknown fields; the API server prunes them).
// An object of a kind without a schema is a failure. Prints one line per object; exits 1 on any failure.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

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
