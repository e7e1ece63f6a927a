using Tailor.Arch;
using Tailor.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tailor.Hardware.Latency;

/// <summary>TorchSharp (libtorch) on the CPU: eval mode, no_grad, <see cref="Threads"/> intra-op threads (process-wide setting).</summary>
public sealed class TorchCpuTarget : ILatencyTarget
{
    public TorchCpuTarget(int threads = 1) { Threads = threads; }

    public string Kind => "torch-cpu";
    public int Threads { get; }
    public string Spec => $"torch-cpu:threads={Threads}";
    public string Runtime => $"torchsharp {typeof(torch).Assembly.GetName().Version?.ToString(3)} (libtorch {torch.__version__})";

    public ILatencyModel Prepare(Architecture arch, int batch = 1, int seed = 0)
    {
        torch.manual_seed(seed);
        return new TorchModel(new ConvNet(arch), arch.Input, batch, Threads);
    }

    public ILatencyModel PrepareSegment(Architecture arch, ArchAnalysis analysis, int from, int to, int batch = 1, int seed = 0)
    {
        torch.manual_seed(seed);
        var rows = analysis.Layers.Skip(from).Take(to - from).ToList();
        var first = rows[0];
        return new TorchModel(new Segment(rows, arch.Classes), new InputShape(first.InChannels, first.InH, first.InW), batch, Threads);
    }

    public ILatencyModel PrepareOverhead(int channels, int height, int width, int batch = 1) =>
        new TorchModel(new Segment(new List<LayerInfo>(), 0), new InputShape(channels, height, width), batch, Threads);

    /// <summary>A run of analysis rows as one module (the "head.fc" row is mean-pool + linear).</summary>
    sealed class Segment : nn.Module<Tensor, Tensor>
    {
        private readonly ModuleList<nn.Module<Tensor, Tensor>> layers;
        private readonly Linear? classifier;

        public Segment(List<LayerInfo> rows, int classes) : base("Segment")
        {
            var o = BuildOptions.Default;
            layers = new ModuleList<nn.Module<Tensor, Tensor>>(rows.Where(r => r.Block != null).Select(r => ConvNet.Make(r, o)).ToArray());
            var fc = rows.FirstOrDefault(r => r.Block == null);
            if (fc != null) classifier = nn.Linear(fc.InChannels, classes);
            RegisterComponents();
            Layers.Initialize(this, o);
        }

        public override Tensor forward(Tensor x)
        {
            foreach (var m in layers) x = m.call(x);
            if (classifier != null) x = classifier.call(x.mean(new long[] { 2, 3 }));
            return x.alias();
        }
    }

    sealed class TorchModel : ILatencyModel
    {
        readonly nn.Module<Tensor, Tensor> _net;
        readonly Tensor _x;
        readonly int _threads;

        public TorchModel(nn.Module<Tensor, Tensor> net, InputShape input, int batch, int threads)
        {
            _net = net;
            _net.eval();
            _threads = threads;
            var g = new Generator(1);
            _x = torch.rand(new long[] { batch, input.Channels, input.Height, input.Width }, generator: g) * 2 - 1;
        }

        public void Run()
        {
            if (torch.get_num_threads() != _threads) torch.set_num_threads(_threads);
            using var _ = torch.no_grad();
            using var scope = torch.NewDisposeScope();
            _net.call(_x);
        }

        public bool RunsOnCallingThread => _threads == 1;

        public void Dispose() { _x.Dispose(); _net.Dispose(); }
    }
}
