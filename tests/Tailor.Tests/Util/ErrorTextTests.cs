using System.Text.Json;
using Tailor.Arch;
using Tailor.Util;

namespace Tailor.Tests.Util;

public class ErrorTextTests
{
    static JsonException ParseError(string json)
    {
        try { using var _ = JsonDocument.Parse(json); }
        catch (JsonException e) { return e; }
        throw new InvalidOperationException("parsed");
    }

    [Fact]
    public void OneLineEscapesControlCharacters()
    {
        Assert.Equal("plain text", ErrorText.OneLine("plain text"));
        Assert.Equal("a\\nb\\r\\tc\\u0000", ErrorText.OneLine("a\nb\r\tc\0"));
    }

    [Fact]
    public void JsonErrorKeepsTheParserWordsOnOneLine()
    {
        // System.Text.Json quotes the bad literal, newline included; the brief form escapes it and drops its Path/LineNumber block.
        var e = ParseError("not json\n");
        string m = ErrorText.Json(e);
        Assert.DoesNotContain('\n', m);
        Assert.DoesNotContain("LineNumber", m);
        Assert.EndsWith(", line 1", m);
        Assert.Contains("invalid", m);

        string m2 = ErrorText.Json(ParseError("{\n\"a\": [1, 2,\n"));
        Assert.EndsWith(", line 3", m2);
    }

    [Fact]
    public void JsonErrorNamesThePathOfAConversionError()
    {
        // The old form cut the message at its first '.', which left "could not be converted to System".
        JsonException e;
        try { JsonSerializer.Deserialize<Dictionary<string, int>>("{\"epochs\": \"x\"}"); throw new InvalidOperationException(); }
        catch (JsonException ex) { e = ex; }
        string m = ErrorText.Json(e);
        Assert.Contains("System.Int32", m);
        Assert.Contains(" at $.epochs", m);
        Assert.EndsWith(", line 1", m);
    }

    [Fact]
    public void ArchitectureFileWithABadLiteralGivesOneLine()
    {
        var e = Assert.Throws<TailorException>(() => ArchJson.Parse("not json\n", "net.json"));
        Assert.StartsWith("net.json: not valid JSON (", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}

[Collection("serial")]
public class CliOneLineErrorTests
{
    [Fact]
    public void CliPrintsOneLineForAnArchitectureFileWithANewlineInTheBadLiteral()
    {
        string f = Path.Combine(Path.GetTempPath(), $"tailor-bad-{Guid.NewGuid():N}.json");
        File.WriteAllText(f, "not json\n");
        try
        {
            var (code, _, err) = CliInProcess.Run("arch", "count", f);
            CliInProcess.AssertOneErrorLine(code, err, "not valid JSON");
        }
        finally { File.Delete(f); }
    }

    [Fact]
    public void CliRunTurnsIoAndPermissionErrorsIntoOneLineAndBugsIntoExceptions()
    {
        var (oldErr, err) = (Console.Error, new StringWriter());
        Console.SetError(err);
        try
        {
            Assert.Equal(2, Tailor.Cli.Cli.Run(() => throw new IOException("No space left on device : '/runs/x/state.json'\nmore")));
            Assert.Equal(2, Tailor.Cli.Cli.Run(() => throw new UnauthorizedAccessException("Access to the path '/runs/ro' is denied.")));
            Assert.Throws<InvalidOperationException>(() => Tailor.Cli.Cli.Run(() => throw new InvalidOperationException("a bug")));
        }
        finally { Console.SetError(oldErr); }
        var lines = err.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["error: No space left on device : '/runs/x/state.json'\\nmore", "error: Access to the path '/runs/ro' is denied."], lines);
    }
}
