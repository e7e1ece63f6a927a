namespace Tailor.Benchmarks;

/// <summary>
/// Where the shared real data lives: $TAILOR_SHARED_DATA when set, else ../shared/data next to
/// the repository root (found by walking up from the working directory, then from the program's
/// folder, to the folder holding Tailor.slnx).
/// </summary>
public static class SharedData
{
    public const string EnvVar = "TAILOR_SHARED_DATA";

    /// <summary>What a missing benchmark table's error adds: where the default files are looked up.</summary>
    public const string NotFoundHint = $"a benchmark table; shared data is looked up in ${EnvVar} or ../shared/data from the repository root";

    public static string Root()
    {
        string? env = Environment.GetEnvironmentVariable(EnvVar);
        if (!string.IsNullOrWhiteSpace(env)) return Path.GetFullPath(env);
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            var repo = FindRepoRoot(start);
            if (repo != null) return Path.GetFullPath(Path.Combine(repo, "..", "shared", "data"));
        }
        return Path.GetFullPath(Path.Combine(Directory.GetCurrentDirectory(), "..", "shared", "data"));
    }

    public static string? FindRepoRoot(string start)
    {
        for (var d = new DirectoryInfo(Path.GetFullPath(start)); d != null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Tailor.slnx"))) return d.FullName;
        return null;
    }

    public static string Path201 => Path.Combine(Root(), "nas-bench-201", "nb201_cifar10.csv");
    public static string PathFbnet => Path.Combine(Root(), "hw-nas-bench-fbnet", "fbnet_cifar100_latency.csv");
}
