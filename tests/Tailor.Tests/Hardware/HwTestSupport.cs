using System.Diagnostics;
using Tailor.Hardware.Latency;

namespace Tailor.Tests.Hardware;

public static class HwData
{
    /// <summary>The repository root (the folder with Tailor.slnx).</summary>
    public static string RepoRoot
    {
        get
        {
            var d = new DirectoryInfo(AppContext.BaseDirectory);
            while (d != null && !File.Exists(Path.Combine(d.FullName, "Tailor.slnx"))) d = d.Parent;
            return d?.FullName ?? throw new InvalidOperationException("repository root not found");
        }
    }

    public static string FbnetCsv => Tailor.Benchmarks.SharedData.PathFbnet;
    public static string Nb201Csv => Tailor.Benchmarks.SharedData.Path201;

    public static string OrSkip(string path)
    {
        Skip.If(!File.Exists(path), $"shared data missing: {path} (set {Tailor.Benchmarks.SharedData.EnvVar} or put ../shared/data next to the repository)");
        return path;
    }

    public static string TempDir()
    {
        var d = Path.Combine(Path.GetTempPath(), "tailor-hw-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(d);
        return d;
    }

    /// <summary>Loose measurement settings for tests: the machine is shared, tests check structure, not speed.</summary>
    public static MeasureOptions Quick { get; } = new() { Warmup = 1, RunsPerRound = 3, MinRounds = 2, MaxRounds = 3, MaxError = 1e9, MinRoundMs = 0 };

    public static readonly string[] QuickArgs = { "--warmup", "1", "--runs", "3", "--min-rounds", "2", "--max-rounds", "3", "--max-error", "1000000" };
}

/// <summary>Runs the CLI as a child process (stdout, stderr and exit code kept apart from the test process).</summary>
public static class CliProcess
{
    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "tailor.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string o = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, o, err.Result);
    }

    /// <summary>Asserts a user error: exit code 2 and exactly one line "error: ..." containing <paramref name="fragment"/>.</summary>
    public static void AssertOneLineError((int Code, string Out, string Err) r, string fragment)
    {
        Assert.True(r.Code == 2, $"exit {r.Code}; stderr: {r.Err}");
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one line on stderr, got: {r.Err}");
        Assert.StartsWith("error: ", lines[0]);
        Assert.Contains(fragment, lines[0]);
    }
}
