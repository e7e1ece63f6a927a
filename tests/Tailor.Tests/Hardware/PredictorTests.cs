using System.Text.Json.Nodes;
using Tailor.Hardware.Predictors;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Tailor.Tests.Hardware;

public class PredictorTests(ITestOutputHelper log)
{
    static PredictorTests() => set_num_threads(1);

    [SkippableFact]
    public void MlpMeetsTheGoalOnFbnetPixel3()
    {
        string csv = HwData.OrSkip(HwData.FbnetCsv);
        var data = LatencyCsv.Load(csv, ArchEncodings.Parse("fbnet"), "latency_ms_pixel3");
        Assert.Equal(5000, data.Count);
        var r = PredictorEvaluation.Run(data, "mlp", 1000, 1500, 0);
        log.WriteLine($"mlp fbnet pixel3: within10 {r.Within10:P1}, MAPE {r.Mape:P2}, tau {r.KendallTau:F3}, {r.Seconds:F1} s");
        Assert.Equal(1000, r.Train);
        Assert.Equal(1500, r.Test);
        Assert.True(r.Within10 >= 0.9, $"within10 {r.Within10}");
        Assert.True(r.KendallTau > 0.8);
    }

    [SkippableFact]
    public void GbdtFitsAndIsDeterministic()
    {
        string csv = HwData.OrSkip(HwData.FbnetCsv);
        var data = LatencyCsv.Load(csv, ArchEncodings.Parse("fbnet"), "latency_ms_gtx1080ti_b1");
        var a = PredictorEvaluation.Run(data, "gbdt", 1000, 1000, 4);
        var b = PredictorEvaluation.Run(data, "gbdt", 1000, 1000, 4);
        log.WriteLine($"gbdt fbnet gtx1080ti: within10 {a.Within10:P1}, MAPE {a.Mape:P2}, {a.Seconds:F1} s");
        Assert.Equal(a.Mape, b.Mape);
        Assert.True(a.Within10 >= 0.8, $"within10 {a.Within10}");
    }

    [SkippableFact]
    public void Nb201EncodingParsesAndFeaturesMatchTheirSoftVersion()
    {
        var enc = new Nb201Encoding();
        var c = enc.Parse("|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_1x1~2|");
        Assert.Equal(new[] { 3, 0, 4, 1, 0, 2 }, c);
        foreach (var bad in new[] { "|nor_conv_3x3~0|+|none~0|", "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|", "|none~1|+|none~0|none~1|+|none~0|none~1|none~2|" })
            Assert.Throws<TailorException>(() => enc.Parse(bad));
        // liveness: disconnected cell (node 3 has only none inputs) has no live op
        var dead = enc.Features(enc.Parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|none~0|none~1|none~2|"));
        Assert.Equal(0f, dead[54]);
        Assert.All(dead.Skip(30).Take(24), v => Assert.Equal(0f, v));
        var f = enc.Features(c);
        Assert.Equal(1f, f[54]);
        Assert.Equal(1f, f[30 + 0 * 4 + 3 - 1]);  // edge 1<-0 conv3x3 is live (0->1->2->3)
        Assert.Equal(1f, f[30 + 2 * 4 + 4 - 1]);  // edge 2<-1 pool is live
        // soft features of one-hot weights equal the hard features, for random archs
        var rng = new Random(1);
        for (int i = 0; i < 50; i++)
        {
            var ch = Enumerable.Range(0, 6).Select(_ => rng.Next(5)).ToArray();
            var soft = enc.SoftFeatures(tensor(enc.OneHot(ch))).data<float>().ToArray();
            Assert.Equal(enc.Features(ch), soft);
        }
        if (File.Exists(HwData.Nb201Csv))
        {
            var data = LatencyCsv.Load(HwData.Nb201Csv, enc, "latency_ms_fpga");
            Assert.Equal(15625, data.Count);
        }
    }

    [Fact]
    public void PredictSoftIsDifferentiableAndAgreesOnOneHot()
    {
        var enc = ArchEncodings.Parse("space:spnas-cifar");
        var space = ((SpaceEncoding)enc).Space;
        var rng = new Random(2);
        var choices = Enumerable.Range(0, 200).Select(_ => space.Sample(rng)).ToList();
        // a synthetic additive latency with one interaction
        var y = choices.Select(c => 1.0 + c.Select((k, l) => 0.1 * (k + 1) * (l % 3 + 1)).Sum() + (c[0] == c[1] ? 0.3 : 0)).ToList();
        using var p = MlpLatencyPredictor.Fit(enc, choices, y, 0, new MlpOptions { Steps = 200 });
        var hard = p.Predict(choices.Take(5).ToList());
        using var scope = NewDisposeScope();
        var oneHot = stack(choices.Take(5).Select(c => tensor(enc.OneHot(c))).ToArray());
        var soft = p.PredictSoft(oneHot).data<float>().ToArray();
        for (int i = 0; i < 5; i++) Assert.Equal(hard[i], soft[i], 4);
        // logits -> softmax per layer -> latency: gradients reach the logits
        var logits = Enumerable.Range(0, space.LayerCount).Select(l => randn(space.Choices(l).Count).requires_grad_()).ToList();
        var lat = p.PredictSoft(logits.Select(t => t.softmax(-1)).ToList());
        Assert.Empty(lat.shape);
        lat.backward();
        Assert.All(logits, t => Assert.True(t.grad is not null && t.grad.abs().sum().item<float>() > 0));
        Assert.Contains("expected 10 groups", Assert.Throws<TailorException>(() => p.PredictSoft(logits.Take(3).ToList())).Message);
        // the fit itself is deterministic
        using var p2 = MlpLatencyPredictor.Fit(enc, choices, y, 0, new MlpOptions { Steps = 200 });
        Assert.Equal(hard, p2.Predict(choices.Take(5).ToList()));
    }

    [Fact]
    public void BadCsvsAreRefusedNamingFileLineAndColumn()
    {
        string dir = HwData.TempDir();
        string W(string name, string text) { var p = Path.Combine(dir, name); File.WriteAllText(p, text); return p; }
        var enc = ArchEncodings.Parse("fbnet");
        string ops = string.Join(' ', Enumerable.Repeat("3", 22));
        string ok = W("ok.csv", $"index,op_indices,lat\n0,{ops},1.5\n1,{ops},2.5\n");
        Assert.Equal(2, LatencyCsv.Load(ok, enc, "lat").Count);
        Assert.Equal($"{ok}: no column 'latency_ms_x'; columns: index, op_indices, lat", Assert.Throws<TailorException>(() => LatencyCsv.Load(ok, enc, "latency_ms_x")).Message);
        string nn = W("nn.csv", $"index,op_indices,lat\n0,{ops},1.5\n1,{ops},fast\n");
        Assert.Equal($"{nn}:3: column 'lat': 'fast' is not a number", Assert.Throws<TailorException>(() => LatencyCsv.Load(nn, enc, "lat")).Message);
        string neg = W("neg.csv", $"index,op_indices,lat\n0,{ops},-1\n");
        Assert.Contains(":2: column 'lat': latency must be > 0", Assert.Throws<TailorException>(() => LatencyCsv.Load(neg, enc, "lat")).Message);
        string badArch = W("arch.csv", $"index,op_indices,lat\n0,3 3 3,1.5\n");
        Assert.Contains(":2: column 'op_indices': space:fbnet: expected 22 layer choices, got 3", Assert.Throws<TailorException>(() => LatencyCsv.Load(badArch, enc, "lat")).Message);
        string ragged = W("ragged.csv", $"index,op_indices,lat\n0,{ops}\n");
        Assert.Contains(":2: expected 3 fields, got 2", Assert.Throws<TailorException>(() => LatencyCsv.Load(ragged, enc, "lat")).Message);
        Assert.Contains("no architecture column 'op_indices'", Assert.Throws<TailorException>(() => LatencyCsv.Load(W("noarch.csv", "a,lat\n1,2\n"), enc, "lat")).Message);
        Assert.Contains("file not found", Assert.Throws<TailorException>(() => LatencyCsv.Load(Path.Combine(dir, "none.csv"), enc, "lat")).Message);
        Assert.Contains("unknown; expected fbnet, nb201 or space:NAME", Assert.Throws<TailorException>(() => ArchEncodings.Parse("nasbench101")).Message);
        // space:NAME reads candidate names from an 'arch' column, and any column name works
        string sp = W("space.csv", "arch,my_device_ms\n\"k3_e3 skip k3_e3 skip k3_e3 skip k3_e3 skip k3_e3 skip\",0.7\n");
        Assert.Equal(0.7, LatencyCsv.Load(sp, ArchEncodings.Parse("space:spnas-cifar"), "my_device_ms").Latency[0]);
        // CLI: one line, exit 2
        CliProcess.AssertOneLineError(CliProcess.Run("latency", "fit", "--csv", nn, "--encoding", "fbnet", "--column", "lat", "--train", "1"), "column 'lat': 'fast' is not a number");
        CliProcess.AssertOneLineError(CliProcess.Run("latency", "fit", "--csv", ok, "--encoding", "fbnet", "--column", "nope", "--train", "1"), "no column 'nope'");
    }

    [SkippableFact]
    public void CliFitPrintsTheMetrics()
    {
        string csv = HwData.OrSkip(HwData.Nb201Csv);
        var r = CliProcess.Run("latency", "fit", "--csv", csv, "--encoding", "nb201", "--column", "latency_ms_fpga", "--train", "300", "--test", "500", "--seed", "1", "--model", "gbdt", "--json");
        Assert.True(r.Code == 0, r.Err);
        var j = JsonNode.Parse(r.Out)!;
        foreach (var k in new[] { "mape", "rmse", "within10", "kendall_tau" }) Assert.True((double)j[k]! >= 0, k);
        Assert.Equal(300, (int)j["train"]!);
        Assert.Equal(500, (int)j["test"]!);
        CliProcess.AssertOneLineError(CliProcess.Run("latency", "fit", "--csv", csv, "--encoding", "nb201", "--column", "latency_ms_fpga", "--train", "20000"), "leave at least 2 for testing");
        CliProcess.AssertOneLineError(CliProcess.Run("latency", "fit", "--csv", csv, "--encoding", "nb201", "--column", "latency_ms_fpga", "--model", "svm"), "--model 'svm': unknown");
    }
}
