using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tailor.Training.Optimizers;

/// <summary>Creates the optimizers <c>tailor train --optimizer</c> offers. All are managed
/// (<see cref="OptimizerHelper"/>) optimizers, so their state goes into checkpoints, and all keep their
/// scalars alive through native calls (<see cref="KeptScalarSgd"/>).</summary>
public static class Optimizers
{
    public static readonly string[] Kinds = { "sgd", "rmsprop", "rmsprop-tf", "adam" };

    /// <summary>
    /// sgd: SGD with momentum (PyTorch semantics, optional Nesterov). rmsprop: PyTorch's RMSprop with
    /// alpha 0.9 and eps 1e-3 (the usual ImageNet settings), eps added outside the square root.
    /// rmsprop-tf: <see cref="RMSPropTF"/> (TF1 semantics). adam: Adam (betas 0.9, 0.999; eps 1e-8;
    /// weight decay as L2). Weight decay applies to every parameter given.
    /// </summary>
    public static OptimizerHelper Create(TrainConfig c, IEnumerable<Parameter> parameters)
    {
        var ps = parameters.ToList();
        return c.Optimizer switch
        {
            "sgd" => new KeptScalarSgd(ps, c.Lr, momentum: c.Momentum, dampening: 0, weight_decay: c.WeightDecay, nesterov: c.Nesterov),
            "rmsprop" => new KeptScalarRmsProp(ps, c.Lr, alpha: 0.9, eps: 1e-3, weight_decay: c.WeightDecay, momentum: c.Momentum, centered: false),
            "rmsprop-tf" => new RMSPropTF(ps, c.Lr, decay: 0.9, momentum: c.Momentum, eps: 1e-3, weight_decay: c.WeightDecay),
            "adam" => new KeptScalarAdam(ps, c.Lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: c.WeightDecay, amsgrad: false),
            _ => throw new TailorException($"--optimizer '{c.Optimizer}': expected one of {string.Join(", ", Kinds)}"),
        };
    }
}
