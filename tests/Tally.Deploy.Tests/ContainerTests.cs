using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Serialization;

namespace Tally.Deploy.Tests;

/// <summary>
/// deploy/docker, checked without a Docker engine: the compose file parses (YAML merge keys resolved) and
/// describes the full stack, every file it mounts exists, every build target is a stage of the Dockerfile,
/// and the images run as non-root from the ReadyToRun publish.
/// </summary>
public sealed partial class ContainerTests
{
    private static readonly string Docker = Repo.PathOf("deploy", "docker");

    private static Dictionary<object, object> LoadCompose()
    {
        using var reader = new StreamReader(Path.Combine(Docker, "compose.yaml"));
        var compose = new DeserializerBuilder().Build().Deserialize<Dictionary<object, object>>(new MergingParser(new Parser(reader)));
        return compose;
    }

    private static Dictionary<object, object> Services(Dictionary<object, object> compose) => (Dictionary<object, object>)compose["services"];

    private static Dictionary<object, object> Map(Dictionary<object, object> map, string key) => (Dictionary<object, object>)map[key];

    [Fact]
    public void Compose_DescribesTheFullStack()
    {
        var services = Services(LoadCompose());

        Assert.Equal(
            ["api-1", "api-2", "gateway", "grafana", "jaeger", "otel-collector", "postgres", "prometheus", "rabbitmq", "redis-master", "redis-replica", "sentinel-1", "sentinel-2", "sentinel-3", "worker"],
            services.Keys.Cast<string>().Order().ToArray());
        Assert.Equal("2", Map(Map(services, "worker"), "deploy")["replicas"].ToString());
        foreach (var (name, role) in new[] { ("api-1", "api"), ("api-2", "api"), ("worker", "worker") })
        {
            var service = Map(services, name);
            var environment = Map(service, "environment");
            Assert.Equal(role, environment["Role"]);
            Assert.Equal("Postgres", environment["Storage__Provider"]);
            Assert.Equal("RabbitMq", environment["Bus__Transport"]);
            Assert.EndsWith("serviceName=tally-master", (string)environment["Cache__Redis"], StringComparison.Ordinal);
            Assert.Equal("http://otel-collector:4317", environment["OTEL_EXPORTER_OTLP_ENDPOINT"]);
            Assert.Equal("server", Map(service, "build")["target"]);
            Assert.Equal("true", service["read_only"].ToString());
        }
        var gateway = Map(services, "gateway");
        Assert.Equal("gateway", Map(gateway, "build")["target"]);
        Assert.Equal("http://api-1:8080", Map(gateway, "environment")["Gateway__Backends__0"]);
        Assert.Equal("http://api-2:8080", Map(gateway, "environment")["Gateway__Backends__1"]);
        foreach (var sentinel in new[] { "sentinel-1", "sentinel-2", "sentinel-3" })
        {
            Assert.Contains("redis-sentinel", string.Join(' ', ((List<object>)Map(services, sentinel)["entrypoint"]).Cast<string>()), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Compose_MountsOnlyFilesThatExist_AndDependsOnlyOnItsOwnServices()
    {
        var compose = LoadCompose();
        var services = Services(compose);
        var volumes = ((Dictionary<object, object>)compose["volumes"]).Keys.Cast<string>().ToHashSet();

        foreach (var (name, value) in services)
        {
            var service = (Dictionary<object, object>)value;
            foreach (var mount in (service.GetValueOrDefault("volumes") as List<object> ?? []).Cast<string>())
            {
                var source = mount.Split(':')[0];
                if (source.StartsWith('.'))
                {
                    var path = Path.GetFullPath(Path.Combine(Docker, source));
                    Assert.True(File.Exists(path) || Directory.Exists(path), $"{name} mounts {source}, which does not exist");
                }
                else
                {
                    Assert.Contains(source, volumes);
                }
            }
            var dependencies = service.GetValueOrDefault("depends_on") switch
            {
                List<object> list => list.Cast<string>(),
                Dictionary<object, object> map => map.Keys.Cast<string>(),
                _ => [],
            };
            Assert.All(dependencies, d => Assert.True(services.ContainsKey(d), $"{name} depends on unknown {d}"));
        }
        Assert.True(File.Exists(Repo.PathOf("deploy", "grafana", "tally.json")));
    }

    [Fact]
    public async Task Dockerfile_BuildsEveryComposeTarget_AsNonRoot_FromTheColdStartPublish()
    {
        var dockerfile = await File.ReadAllTextAsync(Path.Combine(Docker, "Dockerfile"));
        var stages = StageLine().Matches(dockerfile).ToDictionary(m => m.Groups[2].Value, m => m.Groups[1].Value);
        var targets = Services(LoadCompose()).Values.Cast<Dictionary<object, object>>()
            .Where(s => s.ContainsKey("build")).Select(s => (string)Map(s, "build")["target"]).Distinct().Order().ToArray();

        Assert.Equal(["gateway", "server"], targets);
        Assert.Equal("${DOTNET_RUNTIME_DEPS}", stages["server"]);
        Assert.Equal("${DOTNET_RUNTIME}", stages["gateway"]);
        Assert.Contains("ARG DOTNET_RUNTIME_DEPS=mcr.microsoft.com/dotnet/runtime-deps:10.0-noble-chiseled", dockerfile, StringComparison.Ordinal);
        Assert.Contains("ARG DOTNET_RUNTIME=mcr.microsoft.com/dotnet/aspnet:10.0-noble-chiseled", dockerfile, StringComparison.Ordinal);
        Assert.Equal("${DOTNET_SDK}", stages["build"]);
        foreach (var target in targets)
        {
            var stage = StageBody(dockerfile, target);
            Assert.Contains("USER $APP_UID", stage, StringComparison.Ordinal);
            Assert.DoesNotContain("USER root", stage, StringComparison.Ordinal);
        }
        Assert.Contains("ENTRYPOINT [\"./Tally.Server\"]", StageBody(dockerfile, "server"), StringComparison.Ordinal);
        Assert.Contains("ENTRYPOINT [\"dotnet\", \"Tally.Gateway.dll\"]", StageBody(dockerfile, "gateway"), StringComparison.Ordinal);
        Assert.Contains("-p:PublishProfile=ColdStart", StageBody(dockerfile, "publish-server"), StringComparison.Ordinal);
        Assert.True(File.Exists(Repo.PathOf("src", "Tally.Server", "Properties", "PublishProfiles", "ColdStart.pubxml")));
        foreach (var project in new[] { "src/Tally.Domain/Tally.Domain.csproj", "src/Tally.ServiceDefaults/Tally.ServiceDefaults.csproj", "src/Tally.Server/Tally.Server.csproj" })
        {
            Assert.Contains($"COPY {project} ", dockerfile, StringComparison.Ordinal);
            Assert.True(File.Exists(Repo.PathOf(project.Split('/'))));
        }
    }

    [Fact]
    public async Task Dockerfile_PassesTheDockerfileLinter()
    {
        var result = await Repo.LintDockerfileAsync(Path.Combine(Docker, "Dockerfile"));

        Assert.True(result.ExitCode == 0, result.All);
        Assert.Contains("0 problems", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DockerfileLinter_RejectsUnknownInstructionsFlagsAndPorts()
    {
        var broken = Path.Combine(Path.GetTempPath(), $"tally-{Guid.NewGuid():N}.Dockerfile");
        await File.WriteAllTextAsync(broken, "FROM alpine AS a\nRUNN echo\nCOPY --chownn=1 a b\nEXPOSE http\n");
        try
        {
            var result = await Repo.LintDockerfileAsync(broken);

            Repo.AssertRefused(result, "Unknown instruction: RUNN", "Unknown flag: chownn", "Invalid containerPort: http");
        }
        finally
        {
            File.Delete(broken);
        }
    }

    private static string StageBody(string dockerfile, string stage)
    {
        var start = dockerfile.IndexOf($" AS {stage}\n", StringComparison.Ordinal);
        Assert.True(start >= 0, $"no stage {stage}");
        var next = dockerfile.IndexOf("\nFROM ", start, StringComparison.Ordinal);
        return next < 0 ? dockerfile[start..] : dockerfile[start..next];
    }

    [GeneratedRegex(@"^FROM (\S+) AS (\S+)$", RegexOptions.Multiline)]
    private static partial Regex StageLine();
}
