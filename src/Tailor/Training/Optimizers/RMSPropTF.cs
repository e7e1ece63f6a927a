using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tailor.Training.Optimizers;

/// <summary>
/// RMSProp as TensorFlow 1 implements it (tf.train.RMSPropOptimizer, used by MnasNet, Single-Path
/// NAS and EfficientNet): the mean-square slot starts at 1, epsilon sits inside the square root,
/// and the learning rate is applied inside the momentum accumulator:
/// <code>
/// ms  = decay * ms + (1 - decay) * g^2
/// mom = momentum * mom + lr * g / sqrt(ms + eps)
/// p  -= mom
/// </code>
/// Weight decay, when set, is added to the gradient as an L2 term (g += wd * p), as TF's
/// regularisation loss does. Defaults: decay 0.9, momentum 0.9, eps 1e-3.
/// </summary>
public sealed class RMSPropTF : OptimizerHelper, optim.IMomentum
{
    public RMSPropTF(IEnumerable<Parameter> parameters, double lr = 0.016, double decay = 0.9, double momentum = 0.9,
        double eps = 1e-3, double weight_decay = 0)
        : this(new[] { new ParamGroup(parameters) }, lr, decay, momentum, eps, weight_decay) { }

    public RMSPropTF(IEnumerable<ParamGroup> groups, double lr = 0.016, double decay = 0.9, double momentum = 0.9,
        double eps = 1e-3, double weight_decay = 0)
    {
        if (lr < 0) throw new ArgumentException($"Invalid learning rate: {lr}");
        if (decay < 0 || decay >= 1) throw new ArgumentException($"Invalid decay: {decay}");
        if (momentum < 0) throw new ArgumentException($"Invalid momentum: {momentum}");
        if (eps < 0) throw new ArgumentException($"Invalid eps: {eps}");
        if (weight_decay < 0) throw new ArgumentException($"Invalid weight_decay: {weight_decay}");
        _defaults = new Options { LearningRate = lr, InitialLearningRate = lr, decay = decay, momentum = momentum, eps = eps, weight_decay = weight_decay };
        _parameter_groups = new List<TorchSharp.Modules.ParamGroup>();
        foreach (var g in groups) add_param_group(g);
    }

    public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
    {
        var o = group.Options;
        double lr = o.LearningRate!.Value, decay = o.decay!.Value, momentum = o.momentum!.Value, eps = o.eps!.Value, wd = o.weight_decay!.Value;
        // Scalars held for the whole step (see KeptScalarOptimizers.cs for why).
        using Scalar sWd = wd, sDecay = decay, sOneMinusDecay = 1 - decay, sEps = eps, sMomentum = momentum, sLr = lr;
        foreach (var p in group.Parameters)
        {
            var grad = p.grad;
            if (grad is null) continue;
            var st = (State)_state[p.Handle];
            st.step += 1;
            if (wd != 0) grad = grad.add(p, sWd);
            st.square_avg.mul_(sDecay).addcmul_(grad, grad, sOneMinusDecay);
            var denom = st.square_avg.add(sEps).sqrt_();
            st.momentum_buffer.mul_(sMomentum).addcdiv_(grad, denom, sLr);
            p.sub_(st.momentum_buffer);
        }
    }, closure);

    public override void add_param_group(TorchSharp.Modules.ParamGroup param_group)
    {
        var def = (Options)_defaults;
        param_group.Options ??= new Options();
        var opt = (Options)param_group.Options;
        opt.LearningRate ??= def.LearningRate;
        opt.decay ??= def.decay;
        opt.momentum ??= def.momentum;
        opt.eps ??= def.eps;
        opt.weight_decay ??= def.weight_decay;
        opt.InitialLearningRate = opt.LearningRate!.Value;
        _parameter_groups.Add(param_group);
        foreach (var p in param_group.Parameters)
        {
            var st = new State(p);
            st.Initialize(opt);
            _state[p.Handle] = st;
        }
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        foreach (var kv in _state) ((State)kv.Item2).Dispose();
        _state.Clear();
    }

    public double Momentum { get => ((Options)_defaults).momentum!.Value; set => ((Options)_defaults).momentum = value; }

    public sealed class Options : OptimizerOptions
    {
        public double? decay, momentum, eps, weight_decay;

        public override void SaveStateDict(BinaryWriter writer)
        {
            base.SaveStateDict(writer);
            writer.Write(decay!.Value); writer.Write(momentum!.Value); writer.Write(eps!.Value); writer.Write(weight_decay!.Value);
        }

        public override void LoadStateDict(BinaryReader reader)
        {
            base.LoadStateDict(reader);
            decay = reader.ReadDouble(); momentum = reader.ReadDouble(); eps = reader.ReadDouble(); weight_decay = reader.ReadDouble();
        }

        public override void LoadStateDict(OptimizerOptions source)
        {
            base.LoadStateDict(source);
            var o = (Options)source;
            decay = o.decay; momentum = o.momentum; eps = o.eps; weight_decay = o.weight_decay;
        }
    }

    public sealed class ParamGroup : ParamGroup<Options>, optim.IMomentum
    {
        public ParamGroup() { }
        public ParamGroup(IEnumerable<Parameter> parameters, Options? options = null) : base(parameters, options!) { }
        public ParamGroup(IEnumerable<Parameter> parameters, double lr, double decay = 0.9, double momentum = 0.9, double eps = 1e-3, double weight_decay = 0)
            : base(parameters, new Options { LearningRate = lr, decay = decay, momentum = momentum, eps = eps, weight_decay = weight_decay }) { }
        public double Momentum { get => Options.momentum!.Value; set => Options.momentum = value; }
    }

    /// <summary>Per-parameter slots: step count, mean square (starts at 1) and momentum (starts at 0).</summary>
    public sealed class State : OptimizerState, IDisposable
    {
        public long step;
        public Tensor square_avg = null!;
        public Tensor momentum_buffer = null!;

        public State(Parameter parameter) : base(parameter) { }

        public override void Initialize(OptimizerOptions options)
        {
            step = 0;
            using var _ = torch.no_grad();
            square_avg = torch.ones_like(_parameter).DetachFromDisposeScope();
            momentum_buffer = torch.zeros_like(_parameter).DetachFromDisposeScope();
        }

        public void Dispose()
        {
            square_avg?.Dispose();
            momentum_buffer?.Dispose();
        }

        public override void to(Device device)
        {
            square_avg = square_avg.to(device);
            momentum_buffer = momentum_buffer.to(device);
        }

        public override void SaveStateDict(BinaryWriter writer)
        {
            writer.Write(step);
            square_avg.Save(writer);
            momentum_buffer.Save(writer);
        }

        public override void LoadStateDict(BinaryReader reader)
        {
            step = reader.ReadInt64();
            square_avg.Load(reader);
            momentum_buffer.Load(reader);
        }

        public override void LoadStateDict(OptimizerState source)
        {
            var s = (State)source;
            step = s.step;
            square_avg.copy_(s.square_avg);
            momentum_buffer.copy_(s.momentum_buffer);
        }

        public override bool ApproximatelyEquals(OptimizerState other) =>
            other is State s && s.step == step && s.square_avg.allclose(square_avg) && s.momentum_buffer.allclose(momentum_buffer);
    }
}
