using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Tailor.Arch;
using Tailor.Cli;
using Tailor.Search.Donna;
using Tailor.Tests.Data;

namespace Tailor.Tests.Donna;

/// <summary>
/// The whole pipeline through the CLI on the real CIFAR-10 subset at toy scale (a 4-block teacher,
/// 2 candidates per block, a few hundred images): outputs, resuming without redoing jobs, a killed
/// job restarting cleanly, and each kind of bad input as a one-line error that loses nothing.
/// </summary>
[Collection("serial")]
public class DonnaPipelineTests
{
    static (int Code, string Out, string Err) Run(params string[] args) => CliInProcess.Run(args);

    /// <summary>A finetune's weights load into the architecture of its key, and its ONNX model gives the same outputs (eval mode) on real images.</summary>
    static void AssertDeployable(string exp, string key, string weights, string onnx)
    {
        Assert.True(File.Exists(weights), weights);
        Assert.True(File.Exists(onnx), onnx);
        using var e = DonnaExperiment.Open(exp, null);
        var arch = e.Space.Build(new BlockSearchSpace(e.Space).Parse(key));
        using var scope = TorchSharp.torch.NewDisposeScope();
        using var net = new Tailor.Models.ConvNet(arch);
        Tailor.Models.Weights.Load(net, weights);
        net.eval();
        var x = e.Data.Images(e.Data.Val, new[] { 0, 1, 2, 3 });
        float[] want;
        using (TorchSharp.torch.no_grad()) want = net.call(x).data<float>().ToArray();
        var got = Tailor.Hardware.Latency.OrtRunner.Run(File.ReadAllBytes(onnx), x.data<float>().ToArray(), x.shape);
        Assert.Equal(want.Length, got.Length);
        Assert.True(want.Zip(got, (p, q) => Math.Abs(p - q)).Max() <= 1e-4, "ONNX output differs from the weights' output");
    }

    static void AssertOneErrorLine(int code, string err, string contains) => CliInProcess.AssertOneErrorLine(code, err, contains);

    sealed class Fixture
    {
        public readonly string Root = TestData.TempDir("donna-cli");
        public readonly string Teacher;
        public readonly string Data = "cifar10:" + TestData.CifarSubset;
        public Fixture()
        {
            Teacher = Path.Combine(Root, "teacher.json");
            File.WriteAllText(Teacher, ArchJson.Write(DonnaModelTests.Teacher()));
        }
        public string[] Args(string outDir, params string[] more) => new[]
        {
            "search", "donna", "--data", Data, "--subset", "300", "--teacher", Teacher, "--teacher-epochs", "1", "--skip-first", "0",
            "--grid", "kernels=3,5;expansions=2;depths=1;se=0;acts=relu;widths=1",
            "--bkd-images", "96", "--bkd-val-images", "40", "--bkd-epochs", "1", "--library-size", "4", "--library-images", "64", "--library-epochs", "1", "--library-seeds", "2",
            "--population", "4", "--generations", "2", "--final-count", "1", "--final-epochs", "1", "--max-error", "0.2",
            "--threads", "1", "--out", outDir,
        }.Concat(more).ToArray();
    }

    static Dictionary<string, byte[]> Snapshot(string dir) =>
        Directory.GetFiles(dir, "*", SearchOption.AllDirectories).Where(f => !f.EndsWith("-wal") && !f.EndsWith("-shm"))
            .ToDictionary(f => Path.GetRelativePath(dir, f), File.ReadAllBytes);

    [SkippableFact]
    public void PipelineRunsResumesRestartsKilledJobsAndRejectsBadInput()
    {
        Skip.IfNot(Directory.Exists(TestData.CifarSubset), $"missing {TestData.CifarSubset} (the shared CIFAR-10 subset)");
        var f = new Fixture();
        string exp = Path.Combine(f.Root, "exp");

        // 1. the whole pipeline
        var (code, stdout, stderr) = Run(f.Args(exp, "--json"));
        Assert.True(code == 0, stderr);
        var s = JsonNode.Parse(stdout)!;
        Assert.Equal(3, (int)s["blocks"]!);
        Assert.Equal(2, (int)s["candidates"]!);
        Assert.Equal(6, (int)s["bkd_jobs"]!);
        Assert.Equal(4, (int)s["library"]!);
        Assert.NotNull(s["predictor"]!["loo_mse"]);
        Assert.InRange(DonnaConfig.Num(s["predictor"]!["noise_ceiling_tau"]), -1, 1);
        // two finetunes per library architecture, each its own job and seed; the predictor fits their mean
        var predJson = JsonNode.Parse(File.ReadAllText(Path.Combine(exp, "predictor.json")))!;
        Assert.Equal(2, (int)predJson["library_seeds"]!);
        Assert.InRange((double)predJson["seed_to_seed_tau"]!, -1, 1);
        // the untrustworthy-predictor warning: the same in the summary and predictor.json, and on stderr
        string? warning = DonnaExperiment.PredictorWarning(DonnaConfig.Num(s["predictor"]!["loo_kendall_tau"]), DonnaConfig.Num(s["predictor"]!["noise_ceiling_tau"]),
            (int)predJson["val_images"]!, 4);
        Assert.Equal(warning, (string?)s["predictor"]!["warning"]);
        Assert.Equal(warning, (string?)predJson["warning"]);
        if (warning != null) Assert.Contains("warning: predictor:", stderr);
        using (var st = ExperimentStore.Open(exp, create: false))
        {
            // --bkd-val-images sets how many held-out images each block's NSR is measured on
            Assert.Equal(40, (int)st.Get("features")!.Result!["val_count"]!);
            foreach (var row in predJson["loo"]!.AsArray())
            {
                string key = (string)row!["key"]!;
                var runs = new[] { st.Get(DonnaExperiment.LibJob(key, 0))!, st.Get(DonnaExperiment.LibJob(key, 1))! };
                Assert.All(runs, j => Assert.Equal(JobStatus.Done, j.Status));
                Assert.NotEqual((long)runs[0].Result!["seed"]!, (long)runs[1].Result!["seed"]!);
                var perSeed = row["per_seed"]!.AsArray().Select(v => (double)v!).ToArray();
                Assert.Equal(runs.Select(j => (double)j.Result!["val_acc"]!), perSeed);
                Assert.Equal(perSeed.Average(), (double)row["actual"]!, 12);
            }
        }
        string searchDir = (string)s["search"]!["folder"]!;
        foreach (var file in new[] { "pareto.json", "pareto.png", "history.csv", "state.json" }) Assert.True(File.Exists(Path.Combine(searchDir, file)), file);
        foreach (var file in new[] { "summary.json", "predictor.json", "latency.jsonl", "teacher/weights.bin", "features/index.json", "bkd/b2_c1.bin" })
            Assert.True(File.Exists(Path.Combine(exp, file)), file);
        var final = s["final"]!.AsArray().Single()!;
        Assert.Equal("done", (string)final["status"]!);
        Assert.InRange(DonnaConfig.Num(final["test_acc"]), 0, 1);
        Assert.Equal(0.8, (double)final["kd_alpha"]!); // the experiment's distillation weight and learning rate unless --final-kd-alpha / --final-lr say otherwise
        Assert.Equal(0.02, (double)final["lr"]!);
        // the finetuned network is handed over: its weights and an ONNX model that computes what the weights compute
        AssertDeployable(exp, (string)final["key"]!, (string)final["weights"]!, (string)final["onnx"]!);
        Assert.True(DonnaConfig.Num(s["search"]!["hypervolume"]) >= 0);
        var pareto = JsonNode.Parse(File.ReadAllText(Path.Combine(searchDir, "pareto.json")))!;
        var front = pareto["front"]!.AsArray();
        Assert.NotEmpty(front);
        var lat = front.Select(p => (double)p!["latency_ms"]!).ToList();
        var acc = front.Select(p => (double)p!["predicted_acc"]!).ToList();
        for (int i = 1; i < front.Count; i++) { Assert.True(lat[i] >= lat[i - 1]); Assert.True(acc[i] > acc[i - 1]); }
        var png = File.ReadAllBytes(Path.Combine(searchDir, "pareto.png"));
        Assert.Equal(0x89, png[0]);

        // 1b. a front point as an architecture JSON: the most accurate one within a latency limit, the same network as its key
        string best = Path.Combine(f.Root, "best.json"), byKey = Path.Combine(f.Root, "bykey.json");
        double limit = lat[0] + 1e-9;
        (code, stdout, stderr) = Run("donna", "export", "--experiment", exp, "--search", Path.GetFileName(searchDir), "--latency-ms", limit.ToString("R", System.Globalization.CultureInfo.InvariantCulture), "--out", best, "--json");
        Assert.True(code == 0, stderr);
        var ex = JsonNode.Parse(stdout)!;
        Assert.Equal((string)front[0]!["key"]!, (string)ex["key"]!); // only the fastest point is within the limit
        Assert.Equal((double)front[0]!["predicted_acc"]!, (double)ex["predicted_acc"]!);
        (code, _, stderr) = Run("donna", "export", "--experiment", exp, "--arch", (string)ex["key"]!, "--out", byKey);
        Assert.True(code == 0, stderr);
        Assert.Equal(File.ReadAllText(best), File.ReadAllText(byKey));
        var exported = ArchJson.Load(best);
        Assert.Equal((long)front[0]!["params"]!, ArchAnalysis.Analyze(exported).Params);
        (code, _, stderr) = Run("donna", "export", "--experiment", exp, "--search", Path.GetFileName(searchDir), "--latency-ms", (lat[0] / 2).ToString("R", System.Globalization.CultureInfo.InvariantCulture), "--out", best);
        AssertOneErrorLine(code, stderr, "no point of the front");
        (code, _, stderr) = Run("donna", "export", "--experiment", exp, "--arch", "9-9-9", "--out", best);
        AssertOneErrorLine(code, stderr, "9-9-9");

        // 2. rerunning resumes: nothing is redone
        List<JobRecord> before;
        using (var st = ExperimentStore.Open(exp, create: false)) before = st.Jobs();
        Assert.All(before, j => Assert.Equal(JobStatus.Done, j.Status));
        (code, stdout, stderr) = Run(f.Args(exp, "--json"));
        Assert.True(code == 0, stderr);
        using (var st = ExperimentStore.Open(exp, create: false))
        {
            var after = st.Jobs();
            Assert.Equal(before.Select(j => (j.Key, j.Attempts, j.Finished)), after.Select(j => (j.Key, j.Attempts, j.Finished)));
        }
        Assert.Equal(0, (int)JsonNode.Parse(stdout)!["search"]!["measured_now"]!);

        // 3. a killed BKD job (left 'running' by a dead process, a torn temp file beside it) restarts cleanly, alone, with the same result
        double nsrBefore = DonnaConfig.Num(before.Single(j => j.Key == "bkd/b1/c1").Result!["nsr"]);
        using (var db = new SqliteConnection($"Data Source={Path.Combine(exp, ExperimentStore.FileName)};Pooling=False"))
        {
            db.Open();
            using var c = db.CreateCommand();
            c.CommandText = $"UPDATE jobs SET status = 'running', owner = '{Environment.MachineName}:999999999:1', result = NULL WHERE key = 'bkd/b1/c1'";
            Assert.Equal(1, c.ExecuteNonQuery());
        }
        File.Delete(Path.Combine(exp, "bkd", "b1_c1.bin"));
        File.WriteAllText(Path.Combine(exp, "bkd", ".b1_c1.bin.tmp-1-dead"), "torn");
        (code, stdout, stderr) = Run("donna", "status", "--experiment", exp, "--json");
        Assert.True(code == 0, stderr);
        Assert.Equal("bkd/b1/c1", (string)JsonNode.Parse(stdout)!["killed"]!.AsArray().Single()!);
        // the pipeline refuses to go on while it is unfinished, naming it
        (code, _, stderr) = Run("donna", "finetune", "--experiment", exp, "--arch", "1-1-1", "--epochs", "1");
        AssertOneErrorLine(code, stderr, "block 1 candidate 1 (running)");
        (code, stdout, stderr) = Run("donna", "bkd", "--experiment", exp, "--block", "1", "--candidate", "1", "--json", "--threads", "1");
        Assert.True(code == 0, stderr);
        var job = JsonNode.Parse(stdout)!["jobs"]!.AsArray().Single()!;
        Assert.Equal("done", (string)job["status"]!);
        Assert.Equal(nsrBefore, DonnaConfig.Num(job["nsr"]), 5); // trained alone = trained with its block's other candidates
        Assert.Equal(1, (int)JsonNode.Parse(stdout)!["ran"]!);
        using (var st = ExperimentStore.Open(exp, create: false)) Assert.Equal(2, st.Get("bkd/b1/c1")!.Attempts);
        Assert.True(File.Exists(Path.Combine(exp, "bkd", "b1_c1.bin")));

        // 3b. a finetune with its own distillation weight is its own job and records the weight; misuse is refused before any job exists
        (code, stdout, stderr) = Run("donna", "finetune", "--experiment", exp, "--arch", "1-1-1", "--epochs", "1", "--kd-alpha", "0.3", "--threads", "1", "--json");
        Assert.True(code == 0, stderr);
        var ft = JsonNode.Parse(stdout)!.AsArray().Single()!;
        Assert.Equal("ft/bkd/1-1-1/e1/s0/kd0.3", (string)ft["job"]!);
        Assert.Equal("done", (string)ft["status"]!);
        Assert.Equal(0.3, (double)ft["kd_alpha"]!);
        Assert.Equal(0.02, (double)ft["lr"]!);
        AssertDeployable(exp, "1-1-1", (string)ft["weights"]!, (string)ft["onnx"]!);
        using (var st = ExperimentStore.Open(exp, create: false))
        {
            Assert.Equal(0.3, (double)st.Get("ft/bkd/1-1-1/e1/s0/kd0.3")!.Result!["kd_alpha"]!);
            int jobs = st.Jobs().Count;
            foreach (var (extra, msg) in new[] { (new[] { "--kd-alpha", "0.5", "--scratch" }, "a run from scratch has no distillation"), (new[] { "--kd-alpha", "1.5" }, "expected 0 <= alpha <= 1 (got 1.5)") })
            {
                (code, _, stderr) = Run(new[] { "donna", "finetune", "--experiment", exp, "--arch", "1-1-1", "--epochs", "1" }.Concat(extra).ToArray());
                AssertOneErrorLine(code, stderr, msg);
            }
            Assert.Equal(jobs, st.Jobs().Count);
        }

        // 4. bad input: one line, exit 2, nothing lost
        var snap = Snapshot(exp);
        // a latency target outside the reachable range
        (code, _, stderr) = Run(f.Args(exp, "--latency-ms", "0.00001"));
        AssertOneErrorLine(code, stderr, "outside the range this space reaches");
        // other settings than the experiment's
        (code, _, stderr) = Run(f.Args(exp, "--seed", "5"));
        AssertOneErrorLine(code, stderr, "seed: 5 here, 0 in the experiment");
        // final-finetune settings that cannot train, refused before any stage runs
        (code, _, stderr) = Run(f.Args(exp, "--final-kd-alpha", "-0.1"));
        AssertOneErrorLine(code, stderr, "--final-kd-alpha: expected 0 <= alpha <= 1 (got -0.1)");
        (code, _, stderr) = Run(f.Args(exp, "--final-lr", "0"));
        AssertOneErrorLine(code, stderr, "--final-lr: expected > 0 (got 0)");
        Assert.Equal(snap.Keys.OrderBy(k => k), Snapshot(exp).Keys.OrderBy(k => k));
        foreach (var (k, v) in snap) if (!k.EndsWith(".db")) Assert.Equal(v, File.ReadAllBytes(Path.Combine(exp, k)));
        using (var st = ExperimentStore.Open(exp, create: false)) Assert.All(st.Jobs(), j => Assert.Equal(JobStatus.Done, j.Status));

        // teacher blocks that do not match the space's stride boundaries (block 1 of the teacher has stride 2)
        string bad = Path.Combine(f.Root, "bad-cuts");
        (code, _, stderr) = Run(f.Args(bad, "--cuts", "0,2,4"));
        AssertOneErrorLine(code, stderr, "reference block 1 has stride 2 inside the block");
        Assert.False(Directory.Exists(bad));

        // a corrupt experiment store is reported and left as it is
        string corrupt = Path.Combine(f.Root, "corrupt");
        Directory.CreateDirectory(corrupt);
        var junk = new byte[8192];
        new Random(1).NextBytes(junk);
        File.WriteAllBytes(Path.Combine(corrupt, ExperimentStore.FileName), junk);
        (code, _, stderr) = Run(f.Args(corrupt));
        AssertOneErrorLine(code, stderr, "corrupt experiment store");
        (code, _, stderr) = Run("donna", "status", "--experiment", corrupt);
        AssertOneErrorLine(code, stderr, "corrupt experiment store");
        Assert.Equal(junk, File.ReadAllBytes(Path.Combine(corrupt, ExperimentStore.FileName)));
        Assert.Single(Directory.GetFiles(corrupt));

        // failed BKD jobs are named, and the next stage does not start
        string diverge = Path.Combine(f.Root, "diverge");
        (code, _, stderr) = Run(f.Args(diverge, "--bkd-lr", "1e30"));
        AssertOneErrorLine(code, stderr, "6 failed: block 0 candidate 0 (k3_e2_d1): ");
        Assert.Contains("NSR", stderr);
        Assert.Contains("--retry-failed", stderr);
        using (var st = ExperimentStore.Open(diverge, create: false))
        {
            Assert.All(st.Jobs("bkd"), j => Assert.Equal(JobStatus.Failed, j.Status));
            Assert.All(st.Jobs("lib"), j => Assert.Equal(JobStatus.Pending, j.Status));
            Assert.Equal(JobStatus.Done, st.Get("teacher")!.Status);
        }
        (code, _, stderr) = Run("donna", "bkd", "--experiment", diverge, "--threads", "1");
        AssertOneErrorLine(code, stderr, "6 BKD jobs failed");
        (code, _, stderr) = Run("donna", "bkd", "--experiment", diverge, "--block", "7");
        AssertOneErrorLine(code, stderr, "--block 7: the space has blocks 0..2");

        // a finished tailor train run as the teacher (here the first experiment's): not retrained, its accuracies recorded
        var cfg = new DonnaConfig { Data = f.Data, Subset = 300, TeacherRun = Path.Combine(exp, "teacher"), SkipFirst = 0 };
        using (var e2 = DonnaExperiment.Open(Path.Combine(f.Root, "teacher-run"), cfg))
        {
            var tj = e2.RunTeacher();
            Assert.Equal(JobStatus.Done, tj.Status);
            Assert.Equal(Path.GetFullPath(Path.Combine(exp, "teacher")), (string)tj.Result!["teacher_run"]!);
            Assert.Equal(DonnaConfig.Num(s["teacher"]!["test_acc"]), DonnaConfig.Num(tj.Result!["test_acc"]));
            Assert.Equal(DonnaConfig.Num(s["teacher"]!["val_acc"]), DonnaConfig.Num(tj.Result!["val_acc"]));
        }
        var notRun = cfg with { TeacherRun = f.Root };   // a folder without arch.json and weights.bin
        var err = Assert.Throws<TailorException>(() => DonnaExperiment.Open(Path.Combine(f.Root, "teacher-run-bad"), notRun));
        Assert.Contains("not a finished tailor train run", err.Message);
    }
}
