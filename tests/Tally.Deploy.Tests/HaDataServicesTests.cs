using System.Data.Common;
using k8s.Models;

namespace Tally.Deploy.Tests;

/// <summary>
/// overlays/prod-ha (components/ha-data): PostgreSQL as a CloudNativePG Cluster and RabbitMQ as a RabbitmqCluster,
/// with the design's guarantees, checked against the operators' CRDs, and Tally pointed at what the operators create.
/// </summary>
public sealed class HaDataServicesTests
{
    private const string Overlay = "overlays/prod-ha";

    [Fact]
    public async Task ProdHa_RunsPostgresAsACloudNativePgClusterOfThree_WhereACommitWaitsForOneStandby()
    {
        var manifests = Manifests.Load(await Repo.KustomizeAsync(Overlay));

        var cluster = Assert.Single(manifests.CustomOfKind("Cluster"));
        Assert.Equal("postgresql.cnpg.io/v1", cluster.Text("apiVersion"));
        Assert.Equal("3", cluster.Text("spec", "instances"));
        Assert.True(cluster.Text("spec", "postgresql", "synchronous", "method") is "any" or "first");
        Assert.Equal("1", cluster.Text("spec", "postgresql", "synchronous", "number"));
        // Writes wait when no standby is in sync instead of being acknowledged by the primary alone.
        Assert.Equal("required", cluster.Text("spec", "postgresql", "synchronous", "dataDurability"));
        Assert.Equal("true", cluster.Text("spec", "postgresql", "synchronous", "failoverQuorum"), ignoreCase: true);
        var tag = cluster.Text("spec", "imageName")!.Split(':')[^1];
        Assert.True(int.Parse(tag.Split('.')[0], CultureInfo.InvariantCulture) >= 15, $"PostgreSQL {tag}");
        Assert.NotNull(cluster.Text("spec", "storage", "size"));
        foreach (var kind in new[] { "requests", "limits" })
        {
            Assert.NotNull(cluster.Text("spec", "resources", kind, "cpu"));
            Assert.NotNull(cluster.Text("spec", "resources", kind, "memory"));
        }
        Assert.Equal("required", cluster.Text("spec", "affinity", "podAntiAffinityType"));
        Assert.Equal("kubernetes.io/hostname", cluster.Text("spec", "affinity", "topologyKey"));

        // WAL archiving and base backups through the Barman Cloud plugin, to a bucket that is a placeholder.
        var plugin = Assert.Single(cluster.Items("spec", "plugins"));
        Assert.Equal("barman-cloud.cloudnative-pg.io", plugin.Text("name"));
        Assert.Equal("true", plugin.Text("isWALArchiver"), ignoreCase: true);
        var store = Assert.Single(manifests.CustomOfKind("ObjectStore"));
        Assert.Equal(store.Text("metadata", "name"), plugin.Text("parameters", "barmanObjectName"));
        Assert.Contains("REPLACE_ME", store.Text("spec", "configuration", "destinationPath"), StringComparison.Ordinal);
        var scheduled = Assert.Single(manifests.CustomOfKind("ScheduledBackup"));
        Assert.Equal(cluster.Text("metadata", "name"), scheduled.Text("spec", "cluster", "name"));
        Assert.Equal("plugin", scheduled.Text("spec", "method"));
        Assert.Equal(plugin.Text("name"), scheduled.Text("spec", "pluginConfiguration", "name"));

        // Monitoring: the Prometheus Operator scrapes the instances' exporter.
        Assert.Contains(manifests.CustomOfKind("PodMonitor"), m =>
            m.Text("spec", "selector", "matchLabels", "cnpg.io/cluster") == cluster.Text("metadata", "name")
            && m.Items("spec", "podMetricsEndpoints").Single().Text("port") == "metrics");
    }

    [Fact]
    public async Task ProdHa_RunsRabbitMqAsAClusterOfThreeOnSeparateNodes_WithQuorumQueuesByDefault()
    {
        var manifests = Manifests.Load(await Repo.KustomizeAsync(Overlay));

        var rabbit = Assert.Single(manifests.CustomOfKind("RabbitmqCluster"));
        var name = rabbit.Text("metadata", "name")!;
        Assert.Equal("rabbitmq.com/v1beta1", rabbit.Text("apiVersion"));
        Assert.Equal("3", rabbit.Text("spec", "replicas"));
        var config = rabbit.Text("spec", "rabbitmq", "additionalConfig")!.Split('\n').Select(l => l.Trim()).ToList();
        Assert.Contains("default_queue_type = quorum", config);
        Assert.Contains("cluster_partition_handling = pause_minority", config);
        Assert.NotNull(rabbit.Text("spec", "persistence", "storage"));
        foreach (var kind in new[] { "requests", "limits" })
        {
            Assert.NotNull(rabbit.Text("spec", "resources", kind, "cpu"));
            Assert.NotNull(rabbit.Text("spec", "resources", kind, "memory"));
        }
        var antiAffinity = (rabbit.At("spec", "affinity", "podAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution") as List<object>)!
            .Cast<Dictionary<object, object>>().Single();
        Assert.Equal("kubernetes.io/hostname", antiAffinity.Text("topologyKey"));
        // The operator labels its pods app.kubernetes.io/name=<cluster name>.
        Assert.Equal(name, antiAffinity.Text("labelSelector", "matchLabels", "app.kubernetes.io/name"));

        var budget = manifests.Named<V1PodDisruptionBudget>(name);
        Assert.Equal("1", budget.Spec.MaxUnavailable.Value);
        Assert.Equal(name, budget.Spec.Selector.MatchLabels["app.kubernetes.io/name"]);
        Assert.Contains(manifests.CustomOfKind("PodMonitor"), m => m.Text("spec", "selector", "matchLabels", "app.kubernetes.io/name") == name);
    }

    [Fact]
    public async Task ProdHa_PointsApiAndWorkerAtTheOperatorsServices_WithTheCredentialsTheOperatorsGenerate()
    {
        var manifests = Manifests.Load(await Repo.KustomizeAsync(Overlay));
        var cluster = Assert.Single(manifests.CustomOfKind("Cluster"));
        var database = cluster.Text("metadata", "name")!;
        var rabbit = Assert.Single(manifests.CustomOfKind("RabbitmqCluster")).Text("metadata", "name")!;

        foreach (var deployment in new[] { "tally-api", "tally-worker" })
        {
            var env = manifests.Named<V1Deployment>(deployment).Spec.Template.Spec.Containers[0].Env.ToList();

            // PostgreSQL: CloudNativePG's read-write Service (<cluster>-rw, always the primary) and its <cluster>-app Secret.
            var postgres = Assert.Single(env, e => e.Name == "ConnectionStrings__Postgres");
            var settings = new DbConnectionStringBuilder { ConnectionString = postgres.Value };
            Assert.Equal($"{database}-rw", (string)settings["Host"]);
            Assert.Equal("5432", (string)settings["Port"]);
            Assert.Equal(cluster.Text("spec", "bootstrap", "initdb", "database"), (string)settings["Database"]);
            foreach (var (keyword, secretKey) in new[] { ("Username", "username"), ("Password", "password") })
            {
                var reference = (string)settings[keyword];
                Assert.StartsWith("$(", reference, StringComparison.Ordinal);
                var variable = reference[2..^1];
                var index = env.FindIndex(e => e.Name == variable);
                // The kubelet expands $(NAME) only from variables defined earlier in the list.
                Assert.True(index >= 0 && index < env.IndexOf(postgres), $"{deployment}: {variable} is not defined before ConnectionStrings__Postgres");
                Assert.Equal($"{database}-app", env[index].ValueFrom.SecretKeyRef.Name);
                Assert.Equal(secretKey, env[index].ValueFrom.SecretKeyRef.Key);
            }

            // RabbitMQ: the URI of the cluster's Service in the operator's <name>-default-user Secret.
            var bus = Assert.Single(env, e => e.Name == "ConnectionStrings__RabbitMq").ValueFrom.SecretKeyRef;
            Assert.Equal($"{rabbit}-default-user", bus.Name);
            Assert.Equal("connection_string", bus.Key);
        }
        var auth = Assert.Single(manifests.CustomOfKind("TriggerAuthentication")).Items("spec", "secretTargetRef").Single();
        Assert.Equal(($"{rabbit}-default-user", "connection_string"), (auth.Text("name"), auth.Text("key")));

        // The NetworkPolicies admit Tally's pods to the operators' pods.
        var policies = manifests.OfKind<V1NetworkPolicy>().ToDictionary(p => p.Metadata.Name);
        Assert.Equal(new Dictionary<string, string> { ["cnpg.io/cluster"] = database }, policies["postgres-from-tally"].Spec.PodSelector.MatchLabels);
        Assert.Equal(new Dictionary<string, string> { ["app.kubernetes.io/name"] = rabbit }, policies["rabbitmq-from-tally"].Spec.PodSelector.MatchLabels);
        Assert.Contains(
            policies["postgres-from-tally"].Spec.Ingress.SelectMany(r => r.FromProperty),
            peer => peer.PodSelector?.MatchLabels is { } labels && labels.TryGetValue("cnpg.io/cluster", out var name) && name == database);
    }

    [Fact]
    public async Task CrdSchemaValidation_RejectsWrongTypesAndUnknownFields_InTheOperatorsKinds()
    {
        var folder = Repo.PathOf("deploy", "k8s", "components", "ha-data");
        var postgres = await File.ReadAllTextAsync(Path.Combine(folder, "postgres-cluster.yaml"));
        var rabbit = await File.ReadAllTextAsync(Path.Combine(folder, "rabbitmq-cluster.yaml"));
        // A wrong type, a field of the wrong object (minSyncReplicas belongs to spec), a value outside an enum, a misspelling.
        var brokenPostgres = Replace(postgres, "  instances: 3\n", "  instances: \"three\"\n");
        brokenPostgres = Replace(brokenPostgres, "      dataDurability: required\n", "      dataDurability: required\n      minSyncReplicas: 1\n");
        brokenPostgres = Replace(brokenPostgres, "  method: plugin\n", "  method: plugins\n");
        var brokenRabbit = Replace(rabbit, "    storage: 50Gi\n", "    storage: 50Gi\n    storageClass: ssd\n");
        var broken = brokenPostgres + "\n---\n" + brokenRabbit;

        var intact = await Repo.ValidateSchemasAsync(postgres + "\n---\n" + rabbit);
        var result = await Repo.ValidateSchemasAsync(broken);

        Assert.True(intact.ExitCode == 0, intact.All);
        Assert.Contains("5 objects, 0 failed", intact.Output, StringComparison.Ordinal);
        Repo.AssertRefused(result, "spec/instances must be integer", "spec/postgresql/synchronous: unknown field \"minSyncReplicas\"",
            "spec/method must be equal to one of the allowed values", "spec/persistence: unknown field \"storageClass\"", "5 objects, 3 failed");
    }

    private static string Replace(string text, string old, string replacement)
    {
        Assert.Contains(old, text, StringComparison.Ordinal);
        return text.Replace(old, replacement, StringComparison.Ordinal);
    }
}
