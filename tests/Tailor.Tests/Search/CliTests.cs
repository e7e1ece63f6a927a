using System.Text.Json.Nodes;
using Tailor.Cli;

namespace Tailor.Tests.Search;

public class SearchCliTests
{
    static int Run(params string[] args) => Program.BuildRoot().Parse(args).Invoke();

    [SkippableFact]
    public void ReaRunWritesSummaryHistoriesAndPlot()
    {
        Data.Nb201OrSkip();
        string dir = Data.TempDir();
        Assert.Equal(0, Run("search", "rea", "--bench", "nb201", "--budget", "30", "--seeds", "3", "--out", dir, "--json"));
        var s = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")))!.AsObject();
        foreach (var k in new[] { "mean_test", "std_test", "mean_regret", "median_queries_to_best", "relative_improvement_pct", "config", "versions", "per_seed" })
            Assert.True(s.ContainsKey(k), k);
        Assert.Equal(3, s["per_seed"]!.AsArray().Count);
        Assert.Equal("cifar10_valid_acc_200ep", (string?)s["config"]!["valid_column"]);
        Assert.Equal(20, (int)s["options"]!["population"]!);
        var csv = File.ReadAllLines(Path.Combine(dir, "histories", "seed_0.csv"));
        Assert.Equal(31, csv.Length);
        Assert.StartsWith("query,key,valid,test,latency", csv[0]);
        var png = File.ReadAllBytes(Path.Combine(dir, "anytime.png"));
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
        Assert.True(File.Exists(Path.Combine(dir, "state", "seed_2.json")));
        Assert.Empty(Directory.GetFiles(dir, ".*", SearchOption.AllDirectories)); // no temp files left
    }

    [SkippableFact]
    public void Nsga2ReportsHypervolumes()
    {
        Data.Nb201OrSkip();
        string dir = Data.TempDir();
        Assert.Equal(0, Run("search", "nsga2", "--budget", "200", "--seeds", "2", "--out", dir, "--json"));
        var s = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")))!.AsObject();
        Assert.True((double)s["hypervolume"]! > 0);
        Assert.True((double)s["true_front_hypervolume"]! >= (double)s["hypervolume"]!);
        Assert.True(File.Exists(Path.Combine(dir, "front.png")));
        Assert.True(File.Exists(Path.Combine(dir, "hypervolume.png")));
    }

    [SkippableFact]
    public void CompareRunsSeveralStrategiesOnOnePlot()
    {
        Data.Nb201OrSkip();
        string dir = Data.TempDir();
        Assert.Equal(0, Run("search", "compare", "--strategies", "random,rea,local", "--budget", "25", "--seeds", "2", "--out", dir));
        var c = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "compare.json")))!;
        Assert.Equal(3, c["strategies"]!.AsArray().Count);
        Assert.True(File.Exists(Path.Combine(dir, "anytime.png")));
        Assert.True(File.Exists(Path.Combine(dir, "local", "summary.json")));
    }

    [SkippableFact]
    public void ResumeGivesTheSameResult()
    {
        Data.Nb201OrSkip();
        string a = Data.TempDir(), b = Data.TempDir();
        Assert.Equal(0, Run("search", "weaknas", "--budget", "40", "--seeds", "2", "--epochs", "20", "--out", a, "--json"));
        // b: the first seed ran 20 queries, then "crashed"; resume finishes it
        Assert.Equal(0, Run("search", "weaknas", "--budget", "40", "--seeds", "2", "--epochs", "20", "--out", b, "--json", "--checkpoint-every", "10"));
        var state = JsonNode.Parse(File.ReadAllText(Path.Combine(b, "state", "seed_0.json")))!.AsObject();
        Assert.Equal(40, state["history"]!.AsArray().Count);
        Assert.Equal(0, Run("search", "weaknas", "--budget", "40", "--seeds", "2", "--epochs", "20", "--out", b, "--json", "--resume"));
        JsonNode Seeds(string d) => JsonNode.Parse(File.ReadAllText(Path.Combine(d, "summary.json")))!["per_seed"]!;
        string Strip(JsonNode n) => new JsonArray(n.AsArray().Select(x => { var o = x!.DeepClone().AsObject(); o.Remove("elapsed_s"); return (JsonNode)o; }).ToArray()).ToJsonString();
        Assert.Equal(Strip(Seeds(a)), Strip(Seeds(b)));
    }

    [Theory]
    [InlineData("search", "rea", "--bench-file", "/nonexistent/table.csv")]
    [InlineData("search", "rea", "--valid-column", "no_such_column")]
    [InlineData("search", "rea", "--budget", "0")]
    [InlineData("search", "rea", "--budget", "15626")]
    [InlineData("search", "rea", "--latency-max-ms", "0.001")]
    [InlineData("search", "rea", "--bench", "nb301")]
    [InlineData("search", "rea", "--population", "3", "--sample-size", "4")]
    [InlineData("search", "weaknas", "--hidden", "a,b")]
    [InlineData("search", "compare", "--strategies", "random,bogo")]
    [InlineData("search", "nsga2", "--hv-ref", "80")]
    public void BadInputExitsWithAUserError(params string[] args)
    {
        Data.Nb201OrSkip();
        string dir = Data.TempDir();
        Assert.Equal(2, Run([.. args, "--seeds", "1", "--out", dir]));
    }

    [SkippableFact]
    public void FbnetAccuracySearchIsRefusedButNsga2Runs()
    {
        Data.FbnetOrSkip();
        string dir = Data.TempDir();
        Assert.Equal(2, Run("search", "rea", "--bench", "fbnet", "--seeds", "1", "--out", dir));
        Assert.Equal(0, Run("search", "nsga2", "--bench", "fbnet", "--budget", "100", "--seeds", "1", "--out", dir, "--json"));
        var s = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")))!;
        Assert.Equal("min latency, min latency2", (string?)s["problem"]);
        Assert.Null(s["mean_test"]);
    }
}
