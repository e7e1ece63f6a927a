using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using Tailor.Arch;
using Tailor.Util;

namespace Tailor.Cli;

/// <summary>Shared helpers for commands: error handling, JSON output, common options.</summary>
public static class Cli
{
    public static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    /// <summary>Runs a command body; user errors become one line on stderr and exit code 2.</summary>
    public static int Run(Func<int> body)
    {
        try { return body(); }
        catch (TailorException e) { return Fail(e.Message); }
        // The machine, not the input: a full disk, a file another process holds, a folder we may not write.
        // Still one line; anything else is a bug and keeps its stack trace.
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return Fail(e.Message); }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("error: interrupted");
            return 130;
        }
    }

    static int Fail(string message)
    {
        Console.Out.Flush();
        Console.Error.WriteLine($"error: {ErrorText.OneLine(message)}");
        return 2;
    }

    public static void PrintJson(object value) => Console.Out.WriteLine(JsonSerializer.Serialize(value, JsonOptions));

    public static Option<string?> InputOption() => new("--input") { Description = "Input shape CxHxW (e.g. 3x32x32); default: the architecture's own" };
    public static Option<int?> ClassesOption() => new("--classes") { Description = "Number of classes; default: the architecture's own" };
    public static Option<bool> JsonOption() => new("--json") { Description = "Print machine-readable JSON on stdout instead of tables" };

    public static Argument<string> ArchArgument() => new("arch") { Description = "Architecture: a JSON file, or zoo:NAME (see 'tailor zoo list')" };

    public static Architecture ResolveArch(string spec, string? input, int? classes) =>
        Zoo.Resolve(spec, input == null ? null : InputShape.Parse(input), classes);

    public static string Human(long n) => n switch
    {
        >= 1_000_000_000 => $"{n / 1e9:F2}G",
        >= 1_000_000 => $"{n / 1e6:F2}M",
        >= 1_000 => $"{n / 1e3:F1}K",
        _ => n.ToString(),
    };

    public static string Escape(string s) => Markup.Escape(s);

    /// <summary>A comma-separated integer list of option <paramref name="option"/> ("3,5,7"); a bad entry is a one-line error naming the option.</summary>
    public static int[] IntList(string s, string option) =>
        s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
         .Select(v => int.TryParse(v, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int x) ? x
             : throw new TailorException($"{option} '{s}': '{v}' is not an integer (expected comma-separated integers, e.g. 3,5)")).ToArray();
}
