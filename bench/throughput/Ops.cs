// --mode ops: forward and backward time of single layers at MobileNetV2 (32x32 input, batch 128) shapes,
// to compare libtorch 2.10 (through TorchSharp) with PyTorch 1.13 kernel by kernel (ops_torch.py).
using System.Diagnostics;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

static class Ops
{
    public static readonly (string Name, long C, long H, string Kind, long Out, long Stride)[] List =
    {
        ("stem conv3x3 s2 3->32 @32", 3, 32, "conv3", 32, 2),
        ("pw 1x1 16->96 @16", 16, 16, "pw", 96, 1),
        ("dw 3x3 s1 96 @16", 96, 16, "dw", 96, 1),
        ("dw 3x3 s2 96 @16", 96, 16, "dw", 96, 2),
        ("pwl 1x1 96->24 @8", 96, 8, "pw", 24, 1),
        ("dw 3x3 s1 144 @8", 144, 8, "dw", 144, 1),
        ("dw 3x3 s1 576 @2", 576, 2, "dw", 576, 1),
        ("pw 1x1 320->1280 @1", 320, 1, "pw", 1280, 1),
        ("bn train 96 @16", 96, 16, "bn", 96, 1),
        ("relu6 96 @16", 96, 16, "relu6", 96, 1),
    };

    public static void Run(int reps)
    {
        var results = new List<object>();
        foreach (var (name, c, h, kind, o, s) in List)
        {
            using var scope = NewDisposeScope();
            nn.Module<Tensor, Tensor> m = kind switch
            {
                "conv3" => nn.Conv2d(c, o, 3, stride: s, padding: 1, bias: false),
                "pw" => nn.Conv2d(c, o, 1, bias: false),
                "dw" => nn.Conv2d(c, o, 3, stride: s, padding: 1, groups: c, bias: false),
                "bn" => nn.BatchNorm2d(c),
                _ => nn.ReLU6(),
            };
            m.train();
            var x = torch.randn(128, c, h, h).requires_grad_(true);
            var fw = new List<double>(); var bw = new List<double>();
            for (int i = 0; i < reps + 2; i++)
            {
                using var inner = NewDisposeScope();
                var sw = Stopwatch.StartNew();
                var y = m.call(x);
                double f = sw.Elapsed.TotalSeconds;
                sw.Restart();
                y.backward(new[] { torch.ones_like(y) });
                double b = sw.Elapsed.TotalSeconds;
                if (i >= 2) { fw.Add(f); bw.Add(b); }
                x.grad?.zero_();
            }
            fw.Sort(); bw.Sort();
            results.Add(new { op = name, forward_ms = Math.Round(fw[fw.Count / 2] * 1e3, 3), backward_ms = Math.Round(bw[bw.Count / 2] * 1e3, 3) });
        }
        Console.WriteLine(JsonSerializer.Serialize(new { impl = "tailor", threads = torch.get_num_threads(), ops = results }));
    }
}

/// <summary>--mode dw: depthwise 3x3 forward+backward (input and weight gradients), oneDNN vs Tailor's shift-and-add, by map size.</summary>
static class DwOps
{
    public static void Run(int reps)
    {
        var rows = new List<object>();
        foreach (var (c, h, s) in new (long, long, long)[] { (960, 1, 1), (576, 2, 1), (576, 2, 2), (384, 2, 1), (384, 3, 1), (384, 4, 1), (192, 4, 1), (192, 8, 1) })
        {
            using var scope = NewDisposeScope();
            var conv = nn.Conv2d(c, c, 3, stride: s, padding: 1, groups: c, bias: false);
            var x = torch.randn(128, c, h, h).requires_grad_(true);
            double Time(Func<Tensor> f)
            {
                var ts = new List<double>();
                for (int i = 0; i < reps + 2; i++)
                {
                    using var inner = NewDisposeScope();
                    var sw = Stopwatch.StartNew();
                    var y = f();
                    y.backward(new[] { torch.ones_like(y) });
                    if (i >= 2) ts.Add(sw.Elapsed.TotalMilliseconds);
                    x.grad?.zero_(); conv.weight!.grad?.zero_();
                }
                ts.Sort();
                return Math.Round(ts[ts.Count / 2], 3);
            }
            double onednn = Time(() => conv.call(x));
            double shift = Time(() => Tailor.Models.Depthwise.ShiftAdd(x, conv.weight!, s, s, 1, 1));
            double padded = Time(() => nn.functional.conv2d(nn.functional.pad(x, new long[] { 1, 1, 1, 1 }), conv.weight!, null, new[] { s, s }, new long[] { 0, 0 }, new long[] { 1, 1 }, c));
            double diff;
            using (torch.no_grad()) diff = (conv.call(x) - Tailor.Models.Depthwise.ShiftAdd(x, conv.weight!, s, s, 1, 1)).abs().max().item<float>();
            rows.Add(new { channels = c, map = $"{h}x{h}", stride = s, onednn_ms = onednn, shift_add_ms = shift, pad_then_conv_ms = padded, max_abs_diff = diff });
        }
        Console.WriteLine(JsonSerializer.Serialize(new { impl = "tailor", threads = torch.get_num_threads(), depthwise = rows }));
    }
}
