// Validates deploy/kubernetes: parses every YAML document, checks each object
// against the Kubernetes API schema of its kind (the kubernetes-models
// package), then checks what the schemas cannot see: that the objects fit
// together (selectors, referenced Secrets and ConfigMaps, the Services the
// plan names) and that the agents are set up the way the tool needs them.
// Usage: node validate.js MANIFEST_DIR [PLAN_OUT]   (PLAN_OUT: the plan.json
// of the plan ConfigMap is written there, for the coordinator to read)
"use strict";
const fs = require("fs");
const path = require("path");
const YAML = require("yaml");

const dir = process.argv[2];
const planOut = process.argv[3];
const problems = [];
const fail = (where, message) => problems.push(`${where}: ${message}`);

// kubernetes-models lays classes out as kubernetes-models/GROUP/VERSION/KIND
// (the core group as kubernetes-models/v1/KIND).
function modelClass(apiVersion, kind) {
  try {
    return require(`kubernetes-models/${apiVersion}/${kind}`)[kind];
  } catch (error) {
    return undefined;
  }
}

// Every document of every file, with where it came from.
const objects = [];
let kustomization;
const yamlFiles = fs.readdirSync(dir).filter((name) => /\.ya?ml$/.test(name)).sort();
for (const file of yamlFiles) {
  const text = fs.readFileSync(path.join(dir, file), "utf8");
  const documents = YAML.parseAllDocuments(text, { prettyErrors: true, uniqueKeys: true });
  documents.forEach((document, index) => {
    const where = `${file}#${index}`;
    for (const error of document.errors) fail(where, `YAML error: ${error.message}`);
    for (const warning of document.warnings) fail(where, `YAML warning: ${warning.message}`);
    const value = document.toJS();
    if (value === null || value === undefined) return;  // an empty document
    if (typeof value !== "object" || !value.apiVersion || !value.kind) {
      fail(where, "not a Kubernetes object (needs apiVersion and kind)");
      return;
    }
    if (value.kind === "Kustomization") {
      kustomization = { file, value };
      return;
    }
    objects.push({ where, file, value });
  });
}

for (const { where, value } of objects) {
  const Model = modelClass(value.apiVersion, value.kind);
  if (!Model) {
    fail(where, `unknown apiVersion/kind ${value.apiVersion} ${value.kind}`);
    continue;
  }
  try {
    new Model(value).validate();
  } catch (error) {
    fail(`${where} (${value.kind} ${value.metadata && value.metadata.name})`, error.message);
  }
}

const byKind = (kind) => objects.filter((o) => o.value.kind === kind);
const find = (kind, name) => byKind(kind).find((o) => o.value.metadata.name === name);
const workloads = objects.filter((o) => ["DaemonSet", "Deployment", "Job"].includes(o.value.kind));
const podSpec = (o) => o.value.spec.template.spec;
const labelsMatch = (selector, labels) =>
  Object.entries(selector || {}).every(([key, value]) => labels && labels[key] === value);

// The kustomization lists every file and generates the token Secret.
const generatedSecrets = new Set();
if (!kustomization) {
  fail(dir, "no kustomization.yaml (kubectl apply -k needs it)");
} else {
  const listed = new Set(kustomization.value.resources || []);
  for (const file of yamlFiles) {
    if (file !== kustomization.file && !listed.has(file)) fail(kustomization.file, `does not list ${file}`);
  }
  for (const file of listed) {
    if (!fs.existsSync(path.join(dir, file))) fail(kustomization.file, `lists ${file}, which does not exist`);
  }
  for (const generator of kustomization.value.secretGenerator || []) generatedSecrets.add(generator.name);
  for (const o of objects) {
    const namespace = o.value.metadata.namespace;
    if (o.value.kind !== "Namespace" && namespace !== kustomization.value.namespace) {
      fail(o.where, `namespace ${namespace}, the kustomization's is ${kustomization.value.namespace}`);
    }
  }
}

for (const o of workloads) {
  const spec = podSpec(o);
  const selector = o.value.spec.selector;
  if (o.value.kind !== "Job" && !labelsMatch(selector && selector.matchLabels, o.value.spec.template.metadata.labels)) {
    fail(o.where, "spec.selector does not match the pod template's labels");
  }
  for (const volume of spec.volumes || []) {
    if (volume.secret && !find("Secret", volume.secret.secretName) && !generatedSecrets.has(volume.secret.secretName)) {
      fail(o.where, `volume ${volume.name}: Secret ${volume.secret.secretName} is defined nowhere`);
    }
    if (volume.configMap && !find("ConfigMap", volume.configMap.name)) {
      fail(o.where, `volume ${volume.name}: ConfigMap ${volume.configMap.name} is defined nowhere`);
    }
  }
  for (const container of [...(spec.initContainers || []), ...spec.containers]) {
    for (const mount of container.volumeMounts || []) {
      if (!(spec.volumes || []).some((v) => v.name === mount.name)) {
        fail(o.where, `container ${container.name} mounts volume ${mount.name}, which the pod does not have`);
      }
    }
    const privileged = container.securityContext && container.securityContext.privileged;
    const isInit = (spec.initContainers || []).includes(container);
    // Only the init containers that set sysctls need privilege.
    if (privileged && !isInit) fail(o.where, `container ${container.name} is privileged; only init containers may be`);
    if (!isInit && !(container.securityContext && container.securityContext.runAsNonRoot)) {
      fail(o.where, `container ${container.name} must run as non-root`);
    }
  }
}

for (const service of byKind("Service")) {
  if (!workloads.some((w) => labelsMatch(service.value.spec.selector, w.value.spec.template.metadata.labels))) {
    fail(service.where, `Service ${service.value.metadata.name} selects no workload`);
  }
}

// The agents: a DaemonSet on the nodes' own network, found through a
// headless Service.
const agents = byKind("DaemonSet")[0];
if (!agents) {
  fail(dir, "no agent DaemonSet");
} else {
  if (podSpec(agents).hostNetwork !== true) fail(agents.where, "agents need hostNetwork: true (their sources are the node's addresses)");
  const command = podSpec(agents).containers[0].command || [];
  if (!command.some((arg) => arg.startsWith("--token-file="))) fail(agents.where, "agents listen on the node's address: --token-file is required");
}

// Metrics: a container given --metrics serves it where an in-cluster
// Prometheus reaches it (not loopback), announces it with the
// prometheus.io/* pod annotations and a containerPort, and, unless on the
// host's network (where NetworkPolicy mostly does not apply), only Prometheus
// may reach the port: some NetworkPolicy selects the pod, and every ingress
// rule that admits the port names its sources.
const admitsPort = (rule, port) => !rule.ports || rule.ports.some((p) => String(p.port) === port);
for (const policy of byKind("NetworkPolicy")) {
  const selector = policy.value.spec.podSelector && policy.value.spec.podSelector.matchLabels;
  if (!workloads.some((w) => labelsMatch(selector, w.value.spec.template.metadata.labels))) {
    fail(policy.where, `NetworkPolicy ${policy.value.metadata.name} selects no workload`);
  }
}
for (const o of workloads) {
  const labels = o.value.spec.template.metadata.labels;
  const annotations = o.value.spec.template.metadata.annotations || {};
  for (const container of podSpec(o).containers) {
    const flag = (container.command || []).find((arg) => arg.startsWith("--metrics="));
    if (!flag) continue;
    const match = /^--metrics=(.+):(\d+)$/.exec(flag);
    if (!match) {
      fail(o.where, `container ${container.name}: ${flag} is not ADDR:PORT`);
      continue;
    }
    const [, address, port] = match;
    const where = `${o.where} container ${container.name}`;
    if (/^(127\.|\[::1\]|localhost)/.test(address)) fail(where, `${flag} is loopback, where no Prometheus can scrape it`);
    if (annotations["prometheus.io/scrape"] !== "true") fail(where, "--metrics without the pod annotation prometheus.io/scrape: \"true\"");
    if (annotations["prometheus.io/port"] !== port) fail(where, `pod annotation prometheus.io/port is ${annotations["prometheus.io/port"]}, --metrics port is ${port}`);
    if (annotations["prometheus.io/path"] !== "/metrics") fail(where, "pod annotation prometheus.io/path must be /metrics");
    if (!(container.ports || []).some((p) => String(p.containerPort) === port)) fail(where, `no containerPort ${port} for --metrics`);
    if (podSpec(o).hostNetwork) continue;
    const policies = byKind("NetworkPolicy").filter((p) =>
      (p.value.spec.policyTypes || ["Ingress"]).includes("Ingress") &&
      labelsMatch(p.value.spec.podSelector && p.value.spec.podSelector.matchLabels, labels));
    if (policies.length === 0) fail(where, `no NetworkPolicy limits who reaches metrics port ${port}`);
    for (const policy of policies) {
      for (const rule of policy.value.spec.ingress || []) {
        if (admitsPort(rule, port) && !(rule.from && rule.from.length > 0)) {
          fail(policy.where, `NetworkPolicy ${policy.value.metadata.name} admits every source to metrics port ${port}`);
        }
      }
    }
  }
}

// The plan: valid JSON whose dns:/// agent entry names the headless Service
// and whose target endpoints are the target Service's address and ports.
for (const configMap of byKind("ConfigMap")) {
  const text = configMap.value.data && configMap.value.data["plan.json"];
  if (text === undefined) continue;
  let plan;
  try {
    plan = JSON.parse(text);
  } catch (error) {
    fail(configMap.where, `plan.json is not JSON: ${error.message}`);
    continue;
  }
  if (planOut) fs.writeFileSync(planOut, text);
  const namespace = configMap.value.metadata.namespace;
  for (const [i, agent] of (plan.agents || []).entries()) {
    const match = /^dns:\/\/\/([^:]+):(\d+)$/.exec(agent.endpoint || "");
    if (!match) continue;
    const [, name, port] = match;
    const headless = byKind("Service").find(
      (s) => `${s.value.metadata.name}.${namespace}.svc.cluster.local` === name && s.value.spec.clusterIP === "None");
    if (!headless) {
      fail(configMap.where, `plan agents[${i}].endpoint: ${name} is no headless Service of namespace ${namespace}`);
    } else if (!headless.value.spec.ports.some((p) => String(p.port) === port)) {
      fail(configMap.where, `plan agents[${i}].endpoint: Service ${headless.value.metadata.name} has no port ${port}`);
    }
  }
  for (const endpoint of (plan.target && plan.target.endpoints) || []) {
    const [address, port] = endpoint.split(/:(?=\d+$)/);
    const service = byKind("Service").find((s) => s.value.spec.clusterIP === address);
    if (!service) {
      fail(configMap.where, `plan target endpoint ${endpoint}: no Service has clusterIP ${address}`);
    } else if (!service.value.spec.ports.some((p) => String(p.port) === port)) {
      fail(configMap.where, `plan target endpoint ${endpoint}: Service ${service.value.metadata.name} has no port ${port}`);
    }
  }
}
if (!byKind("ConfigMap").some((c) => c.value.data && c.value.data["plan.json"])) fail(dir, "no ConfigMap holds plan.json");

if (problems.length > 0) {
  for (const problem of problems) console.log(`FAIL: ${problem}`);
  process.exit(1);
}
console.log(`PASS: ${objects.length} objects in ${yamlFiles.length} files validate (${objects.map((o) => o.value.kind).join(", ")})`);
