using System.Buffers.Binary;
using System.Text;
using Google.Protobuf;

namespace Tailor.Training;

/// <summary>
/// A minimal TensorBoard event file writer: TFRecord framing (length, masked CRC32C of the length,
/// data, masked CRC32C of the data) around Event protos (wall_time, step, file_version or a
/// Summary of simple_value scalars). Appends and flushes; a resumed run truncates the file back to
/// the length its checkpoint recorded, so the file never holds steps twice.
/// </summary>
public sealed class EventFileWriter : IDisposable
{
    readonly FileStream _fs;
    public string Path { get; }
    public long Length => _fs.Length;

    /// <summary>"events.out.tfevents.{unix seconds}.{host}", the name TensorBoard looks for.</summary>
    public static string NewFileName() =>
        $"events.out.tfevents.{DateTimeOffset.UtcNow.ToUnixTimeSeconds()}.{SafeHost()}";

    static string SafeHost()
    {
        var h = Environment.MachineName;
        var sb = new StringBuilder();
        foreach (char c in h) sb.Append(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '_');
        return sb.Length > 0 ? sb.ToString() : "localhost";
    }

    /// <summary>Opens (or creates) the file; cuts it to <paramref name="truncateTo"/> bytes when given and shorter than the file.</summary>
    public EventFileWriter(string path, long? truncateTo = null)
    {
        Path = path;
        try
        {
            _fs = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
            if (truncateTo is long t && t >= 0 && t < _fs.Length) _fs.SetLength(t);
            _fs.Seek(0, SeekOrigin.End);
            if (_fs.Length == 0)
            {
                WriteRecord(EventBytes(NowSeconds(), 0, fileVersion: "brain.Event:2"));
                Flush();
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TailorException($"{path}: cannot write the TensorBoard event file ({e.Message.Split('\n')[0].Trim()})");
        }
    }

    static double NowSeconds() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;

    public void AddScalar(string tag, double value, long step, double? wallTime = null) =>
        WriteRecord(EventBytes(wallTime ?? NowSeconds(), step, scalars: new[] { (tag, (float)value) }));

    public void AddScalars(IEnumerable<(string Tag, double Value)> values, long step, double? wallTime = null) =>
        WriteRecord(EventBytes(wallTime ?? NowSeconds(), step, scalars: values.Select(v => (v.Tag, (float)v.Value)).ToArray()));

    public void Flush() => _fs.Flush(true);

    public void Dispose() { try { _fs.Flush(true); } catch (IOException) { } _fs.Dispose(); }

    void WriteRecord(byte[] data)
    {
        Span<byte> head = stackalloc byte[12];
        BinaryPrimitives.WriteUInt64LittleEndian(head, (ulong)data.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(head[8..], Crc32C.Masked(head[..8]));
        Span<byte> tail = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(tail, Crc32C.Masked(data));
        _fs.Write(head);
        _fs.Write(data);
        _fs.Write(tail);
    }

    /// <summary>Serialises an Event proto: wall_time = 1, step = 2, file_version = 3 or summary = 5.</summary>
    public static byte[] EventBytes(double wallTime, long step, string? fileVersion = null, (string Tag, float Value)[]? scalars = null)
    {
        using var ms = new MemoryStream();
        using (var o = new CodedOutputStream(ms, leaveOpen: true))
        {
            o.WriteTag(1, WireFormat.WireType.Fixed64); o.WriteDouble(wallTime);
            o.WriteTag(2, WireFormat.WireType.Varint); o.WriteInt64(step);
            if (fileVersion != null) { o.WriteTag(3, WireFormat.WireType.LengthDelimited); o.WriteString(fileVersion); }
            if (scalars != null)
            {
                // Summary { repeated Value value = 1 }, Value { string tag = 1; float simple_value = 2 }
                using var sms = new MemoryStream();
                using (var so = new CodedOutputStream(sms, leaveOpen: true))
                {
                    foreach (var (tag, v) in scalars)
                    {
                        using var vms = new MemoryStream();
                        using (var vo = new CodedOutputStream(vms, leaveOpen: true))
                        {
                            vo.WriteTag(1, WireFormat.WireType.LengthDelimited); vo.WriteString(tag);
                            vo.WriteTag(2, WireFormat.WireType.Fixed32); vo.WriteFloat(v);
                        }
                        so.WriteTag(1, WireFormat.WireType.LengthDelimited); so.WriteBytes(ByteString.CopyFrom(vms.ToArray()));
                    }
                }
                o.WriteTag(5, WireFormat.WireType.LengthDelimited); o.WriteBytes(ByteString.CopyFrom(sms.ToArray()));
            }
        }
        return ms.ToArray();
    }

    /// <summary>One decoded event (file_version or scalars).</summary>
    public sealed record Event(double WallTime, long Step, string? FileVersion, IReadOnlyList<(string Tag, float Value)> Scalars);

    /// <summary>Reads an event file back, checking both CRCs of every record. For tests and tools.</summary>
    public static List<Event> Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var list = new List<Event>();
        int pos = 0;
        while (pos < bytes.Length)
        {
            if (bytes.Length - pos < 12) throw new InvalidDataException($"{path}: truncated record header at byte {pos}");
            ulong len = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(pos));
            uint lenCrc = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(pos + 8));
            if (lenCrc != Crc32C.Masked(bytes.AsSpan(pos, 8))) throw new InvalidDataException($"{path}: bad length CRC at byte {pos}");
            if ((ulong)(bytes.Length - pos - 16) < len) throw new InvalidDataException($"{path}: truncated record at byte {pos}");
            var data = bytes.AsSpan(pos + 12, (int)len);
            uint dataCrc = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(pos + 12 + (int)len));
            if (dataCrc != Crc32C.Masked(data)) throw new InvalidDataException($"{path}: bad data CRC at byte {pos}");
            list.Add(ParseEvent(data.ToArray()));
            pos += 16 + (int)len;
        }
        return list;
    }

    static Event ParseEvent(byte[] data)
    {
        var input = new CodedInputStream(data);
        double wall = 0; long step = 0; string? fv = null;
        var scalars = new List<(string, float)>();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 1: wall = input.ReadDouble(); break;
                case 2: step = input.ReadInt64(); break;
                case 3: fv = input.ReadString(); break;
                case 5:
                {
                    var summary = new CodedInputStream(input.ReadBytes().ToByteArray());
                    uint st;
                    while ((st = summary.ReadTag()) != 0)
                    {
                        if (WireFormat.GetTagFieldNumber(st) != 1) { summary.SkipLastField(); continue; }
                        var value = new CodedInputStream(summary.ReadBytes().ToByteArray());
                        string t = ""; float v = float.NaN; uint vt;
                        while ((vt = value.ReadTag()) != 0)
                        {
                            switch (WireFormat.GetTagFieldNumber(vt))
                            {
                                case 1: t = value.ReadString(); break;
                                case 2: v = value.ReadFloat(); break;
                                default: value.SkipLastField(); break;
                            }
                        }
                        scalars.Add((t, v));
                    }
                    break;
                }
                default: input.SkipLastField(); break;
            }
        }
        return new Event(wall, step, fv, scalars);
    }
}

/// <summary>CRC-32C (Castagnoli), as TFRecord uses, and TensorFlow's masking of it.</summary>
public static class Crc32C
{
    static readonly uint[] Table = MakeTable();

    static uint[] MakeTable()
    {
        var t = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            uint c = i;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0x82F63B78u ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
        return t;
    }

    public static uint Compute(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFFu;
        foreach (byte b in data) crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc ^ 0xFFFFFFFFu;
    }

    public static uint Masked(ReadOnlySpan<byte> data)
    {
        uint crc = Compute(data);
        return unchecked(((crc >> 15) | (crc << 17)) + 0xa282ead8u);
    }
}
