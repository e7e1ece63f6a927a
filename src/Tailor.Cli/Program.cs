using System.CommandLine;
using Tailor.Cli.Commands;

namespace Tailor.Cli;

public static class Program
{
    public static RootCommand BuildRoot()
    {
        var root = new RootCommand(
            "Tailor: hardware-aware neural architecture search for .NET.\n" +
            "Finds the most accurate ConvNet that meets a latency budget on a device, trains it and exports it to ONNX.");
        root.Subcommands.Add(ArchCommands.Zoo());
        root.Subcommands.Add(ArchCommands.Arch());
        root.Subcommands.Add(SearchCommands.Search(CellSearchCommands.Commands().Append(SinglePathCommand.Create()).Append(RandomTrainCommand.Create()).Append(DonnaCommands.SearchDonna()).ToArray()));
        root.Subcommands.Add(TrainCommand.Create());
        root.Subcommands.Add(HardwareCommands.Export());
        root.Subcommands.Add(HardwareCommands.Latency());
        root.Subcommands.Add(HardwareCommands.Lut());
        root.Subcommands.Add(CellSearchCommands.CellNet());
        root.Subcommands.Add(DonnaCommands.Donna());
        return root;
    }

    public static int Main(string[] args)
    {
        Tailor.Util.NativeTuning.TuneMalloc();
        return BuildRoot().Parse(args).Invoke();
    }
}
