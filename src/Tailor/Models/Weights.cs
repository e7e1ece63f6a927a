using Tailor.Util;
using TorchSharp;

namespace Tailor.Models;

/// <summary>Save/load of module weights (TorchSharp's format), atomically and with clear errors.</summary>
public static class Weights
{
    public static void Save(torch.nn.Module module, string path) =>
        AtomicFile.Write(path, s => { using var w = new BinaryWriter(s, System.Text.Encoding.UTF8, leaveOpen: true); module.save(w); });

    public static void Load(torch.nn.Module module, string path)
    {
        if (!File.Exists(path)) throw new TailorException($"{path}: weights file not found");
        try
        {
            using var fs = File.OpenRead(path);
            using var r = new BinaryReader(fs);
            module.load(r, strict: true);
            if (fs.Position != fs.Length) throw new InvalidDataException($"{fs.Length - fs.Position} trailing bytes");
        }
        catch (Exception e) when (e is not TailorException)
        {
            throw new TailorException($"{path}: not a weights file for this architecture ({FirstLine(e.Message)})");
        }
    }

    static string FirstLine(string s) => s.Split('\n')[0].Trim();
}
