using Tailor.Cli;

namespace Tailor.Tests;

/// <summary>Runs the CLI inside the test process with stdout/stderr captured (tests in the "serial" collection: Console is global).</summary>
public static class CliInProcess
{
    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (oldOut, oldErr) = (Console.Out, Console.Error);
        var (o, e) = (new StringWriter(), new StringWriter());
        Console.SetOut(o); Console.SetError(e);
        try { return (Program.BuildRoot().Parse(args).Invoke(), o.ToString(), e.ToString()); }
        finally { Console.SetOut(oldOut); Console.SetError(oldErr); }
    }

    /// <summary>Exit code 2 and exactly one stderr line "error: ..." containing <paramref name="contains"/>.</summary>
    public static void AssertOneErrorLine(int code, string err, string contains)
    {
        Assert.Equal(2, code);
        var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one line, got: {err}");
        Assert.StartsWith("error: ", lines[0]);
        Assert.Contains(contains, lines[0]);
    }
}
