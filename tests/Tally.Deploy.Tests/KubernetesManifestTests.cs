using System.Text.RegularExpressions;
using k8s;
using k8s.Models;

namespace Tally.Deploy.Tests;

/// <summary>deploy/k8s: the overlays render offline with `kubectl kustomize`, every object validates against the schema of its kind, and the objects say what the runbook says.</summary>
public sealed partial class KubernetesManifestTests
{
    private static readonly string[] TallyDeployments = ["tally-api", "tally-worker", "tally-gateway"];

    public static TheoryData<string> Renders => new() { "base", "overlays/dev", "overlays/prod", "overlays/prod-ha" };

    public static TheoryData<string> Overlays => new() { "overlays/dev", "overlays/prod", "overlays/prod-ha" };

    [Theory]
    [MemberData(nameof(Renders))]
    public async Task Kustomization_Renders_AndEveryObjectValidatesAgainstTheSchemaOfItsKind(string folder)
    {
        var yaml = await Repo.KustomizeAsync(folder);
        var documents = Manifests.Documents(yaml).Count();

        var result = await Repo.ValidateSchemasAsync(yaml);

        Assert.True(result.ExitCode == 0, result.All);
        var summary = SummaryLine().Match(result.Output);
        Assert.True(summary.Success, result.All);
        Assert.Equal(documents, int.Parse(summary.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("0", summary.Groups[2].Value);
        Assert.True(documents >= 20, $"only {documents} objects rendered");
    }

    [Theory]
    [MemberData(nameof(Renders))]
    public async Task Kustomization_Renders_BuiltInObjectsWithoutUnknownFields(string folder)
    {
        var manifests = Manifests.Load(await Repo.KustomizeAsync(folder));

        Assert.Equal(Manifests.Documents(await Repo.KustomizeAsync(folder)).Count(), manifests.Count);
    }

    [Fact]
    public async Task SchemaValidation_RejectsWrongTypes_UnknownKedaFields_AndKindsWithoutSchema()
    {
        const string broken = """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: broken}
            spec:
              replicas: "two"
              selector: {matchLabels: {a: b}}
              template: {spec: {containers: [{name: c, image: i, resources: {limits: {cpu: lots}}}]}}
            ---
            apiVersion: keda.sh/v1alpha1
            kind: ScaledObject
            metadata: {name: broken}
            spec:
              scaleTargetRef: {name: tally-api}
              maxReplicas: 3
              triggers: [{type: cpu, metadata: {value: "50"}}]
            ---
            apiVersion: example.com/v1
            kind: Widget
            metadata: {name: broken}
            """;

        var result = await Repo.ValidateSchemasAsync(broken);

        Repo.AssertRefused(result, "spec/replicas must be integer", "must match format \"quantity\"", "unknown field \"maxReplicas\"",
            "Widget broken: no schema for this kind", "3 objects, 3 failed");
    }

    [Fact]
    public void StrictLoading_RejectsAMisspelledField()
    {
        const string misspelled = """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: typo}
            spec:
              selector: {matchLabels: {a: b}}
              template:
                metadata: {labels: {a: b}}
                spec:
                  containers:
                    - name: c
                      image: i
                      readinesProbe: {httpGet: {path: /ready, port: 8080}}
            """;

        var error = Assert.ThrowsAny<Exception>(() => Manifests.Load(misspelled));

        Assert.Contains("readinesProbe", error.ToString(), StringComparison.Ordinal);
        Assert.Contains("V1Container", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SecretTemplate_IsAValidSecret_HoldingOnlyPlaceholders()
    {
        var path = Repo.PathOf("deploy", "k8s", "base", "secret.template.yaml");
        var yaml = await File.ReadAllTextAsync(path);

        var result = await Repo.ValidateSchemasAsync(yaml);
        var secret = Assert.IsType<V1Secret>(Assert.Single(Manifests.Load(yaml).Typed));

        Assert.True(result.ExitCode == 0, result.All);
        Assert.Equal("tally-secrets", secret.Metadata.Name);
        Assert.Null(secret.Data);
        Assert.All(secret.StringData, entry => Assert.True(
            entry.Value.Length == 0 || entry.Value.Contains("REPLACE_ME", StringComparison.Ordinal),
            $"{entry.Key} holds a value that is not a placeholder"));
        Assert.Contains("Auth__SigningKey", secret.StringData.Keys);
        var kustomization = await File.ReadAllTextAsync(Repo.PathOf("deploy", "k8s", "base", "kustomization.yaml"));
        Assert.DoesNotContain("secret.template.yaml", kustomization, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task Deployments_HaveProbes_Resources_ARestrictedSecurityContext_AndGracefulShutdown(string overlay)
    {
        var manifests = Manifests.Load(await Repo.KustomizeAsync(overlay));

        foreach (var name in TallyDeployments)
        {
            var deployment = manifests.Named<V1Deployment>(name);
            var pod = deployment.Spec.Template.Spec;
            var container = Assert.Single(pod.Containers);

            Assert.Equal("/ready", container.ReadinessProbe.HttpGet.Path);
            Assert.Equal("/health", container.LivenessProbe.HttpGet.Path);
            Assert.Equal("/health", container.StartupProbe.HttpGet.Path);
            // Load never restarts a pod: liveness allows a minute without answers; a busy pod meets readiness in 3 s.
            Assert.True(container.LivenessProbe.PeriodSeconds * container.LivenessProbe.FailureThreshold >= 60, $"{name}: liveness gives up within a minute");
            Assert.True(container.LivenessProbe.TimeoutSeconds >= 5, $"{name}: liveness timeout {container.LivenessProbe.TimeoutSeconds}");
            Assert.True(container.ReadinessProbe.TimeoutSeconds >= 3, $"{name}: readiness timeout {container.ReadinessProbe.TimeoutSeconds}");
            Assert.True(container.StartupProbe.PeriodSeconds * container.StartupProbe.FailureThreshold >= 60, $"{name}: warm-up under a minute");
            foreach (var resource in new[] { "cpu", "memory" })
            {
                Assert.True(container.Resources.Requests.ContainsKey(resource), $"{name}: no {resource} request");
                Assert.True(container.Resources.Limits.ContainsKey(resource), $"{name}: no {resource} limit");
            }
            Assert.True(pod.SecurityContext.RunAsNonRoot);
            Assert.NotEqual(0, pod.SecurityContext.RunAsUser);
            Assert.Equal("RuntimeDefault", pod.SecurityContext.SeccompProfile.Type);
            Assert.True(container.SecurityContext.ReadOnlyRootFilesystem);
            Assert.False(container.SecurityContext.AllowPrivilegeEscalation);
            Assert.Equal(["ALL"], container.SecurityContext.Capabilities.Drop);
            var tmp = Assert.Single(container.VolumeMounts, m => m.MountPath == "/tmp");
            Assert.NotNull(Assert.Single(pod.Volumes, v => v.Name == tmp.Name).EmptyDir);
            Assert.False(pod.AutomountServiceAccountToken);
            Assert.True(pod.TerminationGracePeriodSeconds >= 30, $"{name}: termination grace {pod.TerminationGracePeriodSeconds}");
            Assert.Equal("0", deployment.Spec.Strategy.RollingUpdate.MaxUnavailable.Value);
        }
        foreach (var name in new[] { "tally-api", "tally-gateway" })
        {
            var container = manifests.Named<V1Deployment>(name).Spec.Template.Spec.Containers[0];
            Assert.True(container.Lifecycle.PreStop.Sleep.Seconds > 0, $"{name}: no preStop pause before SIGTERM");
        }
        var config = manifests.Named<V1ConfigMap>("tally-config").Data;
        // Kestrel's drain fits inside the grace period, after the preStop pause.
        Assert.True(int.Parse(config["DOTNET_shutdownTimeoutSeconds"], System.Globalization.CultureInfo.InvariantCulture) + 5
            < manifests.Named<V1Deployment>("tally-api").Spec.Template.Spec.TerminationGracePeriodSeconds);
        // PostgreSQL storage: Tally writes nothing to its read-only root (./data is the SQLite mode's).
        Assert.Equal("Postgres", config["Storage__Provider"]);
        Assert.Equal("RabbitMq", config["Bus__Transport"]);
        Assert.Equal(
            new Dictionary<string, string> { ["tally-api"] = "api", ["tally-worker"] = "worker" },
            new[] { "tally-api", "tally-worker" }.ToDictionary(n => n, n => manifests.Named<V1Deployment>(n).Spec.Template.Spec.Containers[0].Env.Single(e => e.Name == "Role").Value));
        Assert.Contains(
            manifests.Named<V1Deployment>("tally-gateway").Spec.Template.Spec.Containers[0].Env,
            e => e.Name == "Gateway__Backends__0" && e.Value == "http://tally-api:8080");
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task PodDisruptionBudgets_AndServices_CoverEveryRole(string overlay)
    {
        var manifests = Manifests.Load(await Repo.KustomizeAsync(overlay));

        foreach (var name in TallyDeployments)
        {
            var selector = manifests.Named<V1Deployment>(name).Spec.Selector.MatchLabels;
            Assert.Equal(selector, manifests.Named<V1PodDisruptionBudget>(name).Spec.Selector.MatchLabels);
            Assert.Equal(selector, manifests.Named<V1Service>(name).Spec.Selector);
        }
        var ingress = Assert.Single(manifests.OfKind<V1Ingress>());
        Assert.All(ingress.Spec.Rules.SelectMany(r => r.Http.Paths), p => Assert.Equal("tally-gateway", p.Backend.Service.Name));
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task NetworkPolicies_AdmitOutsideTrafficOnlyToTheGateway_AndDataServicesOnlyFromTallyPods(string overlay)
    {
        var manifests = Manifests.Load(await Repo.KustomizeAsync(overlay));
        var policies = manifests.OfKind<V1NetworkPolicy>().ToList();

        var denyAll = Assert.Single(policies, p => p.Metadata.Name == "default-deny-ingress");
        Assert.Empty(denyAll.Spec.PodSelector.MatchLabels ?? new Dictionary<string, string>());
        Assert.Equal(["Ingress"], denyAll.Spec.PolicyTypes);
        Assert.Null(denyAll.Spec.Ingress);

        // Only the gateway takes traffic from the ingress controller; the other namespaces allowed are
        // monitoring (metrics) and keda (queue lengths), never on a port that serves the API to users.
        foreach (var policy in policies)
        {
            foreach (var rule in policy.Spec.Ingress ?? [])
            {
                foreach (var peer in rule.FromProperty.Where(p => p.NamespaceSelector is not null))
                {
                    var ns = peer.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"];
                    if (ns == "ingress-nginx")
                    {
                        Assert.Equal("tally-gateway", policy.Spec.PodSelector.MatchLabels["app.kubernetes.io/name"]);
                    }
                    else if (ns == "cnpg-system")
                    {
                        // The CloudNativePG operator reads each instance's status (prod-ha), on nothing but that port.
                        Assert.Equal("postgres-from-tally", policy.Metadata.Name);
                        Assert.Equal(["8000"], rule.Ports.Select(p => p.Port.Value).ToArray());
                    }
                    else
                    {
                        Assert.Contains(ns, new[] { "monitoring", "keda" });
                    }
                }
            }
        }
        var api = Assert.Single(policies, p => p.Metadata.Name == "api-from-gateway");
        Assert.Equal("tally-gateway", Assert.Single(Assert.Single(api.Spec.Ingress).FromProperty).PodSelector.MatchLabels["app.kubernetes.io/name"]);

        // The labels that open the database, Redis and RabbitMQ are on the api and worker pods, not the gateway.
        var clientLabels = new[] { "tally.io/database-client", "tally.io/cache-client", "tally.io/bus-client" };
        foreach (var (policyName, label) in new[] { ("postgres-from-tally", clientLabels[0]), ("redis-from-tally", clientLabels[1]), ("rabbitmq-from-tally", clientLabels[2]) })
        {
            var policy = Assert.Single(policies, p => p.Metadata.Name == policyName);
            Assert.Contains(policy.Spec.Ingress.SelectMany(r => r.FromProperty), peer => peer.PodSelector?.MatchLabels?.ContainsKey(label) == true);
        }
        var gatewayLabels = manifests.Named<V1Deployment>("tally-gateway").Spec.Template.Metadata.Labels;
        Assert.DoesNotContain(gatewayLabels.Keys, clientLabels.Contains);
        foreach (var name in new[] { "tally-api", "tally-worker" })
        {
            var labels = manifests.Named<V1Deployment>(name).Spec.Template.Metadata.Labels;
            Assert.All(clientLabels, l => Assert.Equal("true", labels[l]));
        }
    }

    [Fact]
    public async Task Base_ScalesApiAndGatewayOnCpuAndMemory_UpFastAndDownSlowly()
    {
        var manifests = Manifests.Load(await Repo.KustomizeAsync("base"));

        foreach (var name in new[] { "tally-api", "tally-gateway" })
        {
            var hpa = manifests.Named<V2HorizontalPodAutoscaler>(name);
            Assert.Equal(name, hpa.Spec.ScaleTargetRef.Name);
            Assert.Equal(["cpu", "memory"], hpa.Spec.Metrics.Select(m => m.Resource.Name).Order().ToArray());
            Assert.Equal(0, hpa.Spec.Behavior.ScaleUp.StabilizationWindowSeconds);
            Assert.Contains(hpa.Spec.Behavior.ScaleUp.Policies, p => p.Type == "Percent" && p.Value >= 100 && p.PeriodSeconds <= 15);
            Assert.True(hpa.Spec.Behavior.ScaleDown.StabilizationWindowSeconds >= 300);
            Assert.All(hpa.Spec.Behavior.ScaleDown.Policies, p => Assert.True(p.Type == "Percent" && p.Value <= 10 && p.PeriodSeconds >= 60));
        }
    }

    [Fact]
    public async Task Prod_ScalesWorkersOnQueueLength_AndApiOnRequestRateAndAdmissionUtilisation_WithKeda()
    {
        var manifests = Manifests.Load(await Repo.KustomizeAsync("overlays/prod"));
        var rules = await File.ReadAllTextAsync(Repo.PathOf("deploy", "prometheus", "tally.rules.yml"));

        // KEDA owns the api's HPA: the base HPA is gone, the gateway's stays.
        Assert.Equal(["tally-gateway"], manifests.OfKind<V2HorizontalPodAutoscaler>().Select(h => h.Metadata.Name).ToArray());

        var worker = Assert.Single(manifests.CustomOfKind("ScaledObject"), o => o.Text("metadata", "name") == "tally-worker");
        Assert.Equal("tally-worker", worker.Text("spec", "scaleTargetRef", "name"));
        var queues = worker.Items("spec", "triggers").Select(t => (t.Text("type"), t.Text("metadata", "queueName"), t.Text("metadata", "mode"), t.Text("authenticationRef", "name"))).ToList();
        Assert.Equal(
            [("rabbitmq", "tally.commands.auth", "QueueLength", "tally-rabbitmq"), ("rabbitmq", "tally.commands.transfer", "QueueLength", "tally-rabbitmq")],
            queues.Order().ToList());
        var auth = Assert.Single(manifests.CustomOfKind("TriggerAuthentication"));
        Assert.Equal("ConnectionStrings__RabbitMq", auth.Items("spec", "secretTargetRef").Single().Text("key"));

        var api = Assert.Single(manifests.CustomOfKind("ScaledObject"), o => o.Text("metadata", "name") == "tally-api");
        var triggers = api.Items("spec", "triggers").ToList();
        Assert.Equal(["cpu", "memory", "prometheus", "prometheus"], triggers.Select(t => t.Text("type") ?? "").Order().ToArray());
        var queries = triggers.Where(t => t.Text("type") == "prometheus").ToDictionary(t => t.Text("name")!, t => t.Text("metadata", "query")!);
        Assert.Equal(["admission-utilisation", "request-rate"], queries.Keys.Order().ToArray());
        foreach (var recorded in queries.Values.Select(q => RecordingRuleName().Match(q).Value))
        {
            Assert.Contains($"record: {recorded}\n", rules, StringComparison.Ordinal);
        }
        Assert.Contains("tally:admission_utilisation:ratio", queries["admission-utilisation"], StringComparison.Ordinal);
        // A ratio is compared as it is (Value), not divided by the pod count (AverageValue).
        Assert.Equal("Value", triggers.Single(t => t.Text("name") == "admission-utilisation").Text("metricType"));
        var query = queries["request-rate"];
        // Prometheus (Operator) scrapes every Tally pod with the labels that query uses.
        var monitor = Assert.Single(manifests.CustomOfKind("PodMonitor"));
        var relabelled = monitor.Items("spec", "podMetricsEndpoints").Single()["relabelings"] as List<object>;
        Assert.Equal(
            ["component", "job", "namespace", "pod"],
            relabelled!.Cast<Dictionary<object, object>>().Select(r => r.Text("targetLabel") ?? "").Order().ToArray());
        Assert.Contains("namespace=\"tally\", component=\"api\"", query, StringComparison.Ordinal);
        foreach (var scaled in new[] { api, worker })
        {
            Assert.Equal("0", scaled.Text("spec", "advanced", "horizontalPodAutoscalerConfig", "behavior", "scaleUp", "stabilizationWindowSeconds"));
            Assert.Equal("300", scaled.Text("spec", "advanced", "horizontalPodAutoscalerConfig", "behavior", "scaleDown", "stabilizationWindowSeconds"));
        }
    }

    [Fact]
    public async Task Dev_RunsPostgresRabbitMqAndRedisWithThreeSentinels_AsStatefulSets()
    {
        var manifests = Manifests.Load(await Repo.KustomizeAsync("overlays/dev"));
        var sets = manifests.OfKind<V1StatefulSet>().ToDictionary(s => s.Metadata.Name);

        Assert.Equal(["postgres", "rabbitmq", "redis-master", "redis-replica", "redis-sentinel"], sets.Keys.Order().ToArray());
        Assert.Equal(3, sets["redis-sentinel"].Spec.Replicas);
        Assert.All(new[] { "postgres", "rabbitmq", "redis-master", "redis-replica" }, n => Assert.NotEmpty(sets[n].Spec.VolumeClaimTemplates));
        Assert.Contains("--replicaof", sets["redis-replica"].Spec.Template.Spec.Containers[0].Args);
        var sentinelConf = manifests.Named<V1ConfigMap>("redis-sentinel").Data["sentinel.conf"];
        Assert.Contains("sentinel monitor tally-master redis-master-0.redis-master 6379 2", sentinelConf, StringComparison.Ordinal);

        // Tally reaches the three sentinels by their stable pod names and asks them for tally-master.
        var redis = manifests.Named<V1ConfigMap>("tally-config").Data["Cache__Redis"];
        Assert.Equal(
            "redis-sentinel-0.redis-sentinel:26379,redis-sentinel-1.redis-sentinel:26379,redis-sentinel-2.redis-sentinel:26379,serviceName=tally-master",
            redis);
        Assert.Equal("redis-sentinel", sets["redis-sentinel"].Spec.ServiceName);
        Assert.True(manifests.Named<V1Service>("redis-sentinel").Spec.ClusterIP == "None");

        // Every pod of the namespace meets the restricted Pod Security Standard that the namespace enforces.
        Assert.Equal("restricted", manifests.Named<V1Namespace>("tally").Metadata.Labels["pod-security.kubernetes.io/enforce"]);
        var pods = sets.Values.Select(s => s.Spec.Template.Spec).Concat(manifests.OfKind<V1Deployment>().Select(d => d.Spec.Template.Spec));
        foreach (var pod in pods)
        {
            Assert.True(pod.SecurityContext.RunAsNonRoot);
            Assert.Equal("RuntimeDefault", pod.SecurityContext.SeccompProfile.Type);
            Assert.All((pod.InitContainers ?? []).Concat(pod.Containers), c =>
            {
                Assert.False(c.SecurityContext.AllowPrivilegeEscalation);
                Assert.Equal(["ALL"], c.SecurityContext.Capabilities.Drop);
            });
        }
        var secret = Assert.Single(manifests.OfKind<V1Secret>(), s => s.Metadata.Name.StartsWith("tally-secrets-", StringComparison.Ordinal));
        Assert.Equal(
            secret.Metadata.Name,
            manifests.Named<V1Deployment>("tally-api").Spec.Template.Spec.Containers[0].EnvFrom.Single(e => e.SecretRef is not null).SecretRef.Name);
    }

    [GeneratedRegex(@"(\d+) objects, (\d+) failed")]
    private static partial Regex SummaryLine();

    [GeneratedRegex(@"tally:[a-z0-9_:]+")]
    private static partial Regex RecordingRuleName();
}
