using System.CommandLine;
using Spectre.Console;
using Tailor.Arch;

namespace Tailor.Cli.Commands;

/// <summary>`tailor zoo list`, `tailor arch count|show|validate|write`.</summary>
public static class ArchCommands
{
    public static Command Zoo()
    {
        var json = Cli.JsonOption();
        var list = new Command("list", "List the built-in reference networks with their exact counts at 224x224x3, 1000 classes") { json };
        list.SetAction(r => Cli.Run(() =>
        {
            var rows = Tailor.Arch.Zoo.List().Select(e =>
            {
                var an = ArchAnalysis.Analyze(Tailor.Arch.Zoo.Get(e.Name));
                return new { name = e.Name, description = e.Description, @params = an.Params, macs = an.Macs };
            }).ToList();
            if (r.GetValue(json)) { Cli.PrintJson(rows); return 0; }
            var t = new Table().AddColumns("name", "params", "MACs", "description");
            foreach (var x in rows) t.AddRow(x.name, x.@params.ToString("N0"), Cli.Human(x.macs), Cli.Escape(x.description));
            AnsiConsole.Write(t);
            return 0;
        }));
        return new Command("zoo", "Built-in reference networks") { list };
    }

    public static Command Arch()
    {
        var cmd = new Command("arch", "Inspect, validate and convert architectures (the IR)");
        cmd.Subcommands.Add(Count());
        cmd.Subcommands.Add(Show());
        cmd.Subcommands.Add(Write());
        return cmd;
    }

    static Command Count()
    {
        var arch = Cli.ArchArgument(); var input = Cli.InputOption(); var classes = Cli.ClassesOption(); var json = Cli.JsonOption();
        var c = new Command("count", "Exact parameters and multiply-accumulates (conv + FC MACs) of an architecture") { arch, input, classes, json };
        c.SetAction(r => Cli.Run(() =>
        {
            var a = Cli.ResolveArch(r.GetValue(arch)!, r.GetValue(input), r.GetValue(classes));
            var an = ArchAnalysis.Analyze(a);
            if (r.GetValue(json))
                Cli.PrintJson(new { name = a.Name, input = a.Input.ToString(), classes = a.Classes, @params = an.Params, macs = an.Macs });
            else
                Console.WriteLine($"{a.Name} @ {a.Input}, {a.Classes} classes: {an.Params:N0} params, {an.Macs:N0} MACs ({Cli.Human(an.Macs)})");
            return 0;
        }));
        return c;
    }

    static Command Show()
    {
        var arch = Cli.ArchArgument(); var input = Cli.InputOption(); var classes = Cli.ClassesOption(); var json = Cli.JsonOption();
        var c = new Command("show", "Per-block table: kind, kernel, expansion, stride, output shape, params, MACs") { arch, input, classes, json };
        c.SetAction(r => Cli.Run(() =>
        {
            var a = Cli.ResolveArch(r.GetValue(arch)!, r.GetValue(input), r.GetValue(classes));
            var an = ArchAnalysis.Analyze(a);
            if (r.GetValue(json))
            {
                Cli.PrintJson(new
                {
                    name = a.Name, @params = an.Params, macs = an.Macs,
                    layers = an.Layers.Select(l => new
                    {
                        path = l.Path, kind = l.Kind, kernel = l.Block?.Kernel, expansion = l.Block?.Kind == BlockKind.MBConv ? l.Block.Expansion : (int?)null,
                        stride = l.Block?.Stride, se = l.Block?.Se != null, residual = l.Residual, output = l.OutShape, @params = l.Params, macs = l.Macs,
                    }),
                });
                return 0;
            }
            var t = new Table().Title($"{Cli.Escape(a.Name)} @ {a.Input}").AddColumns("#", "kind", "k", "e", "s", "SE", "res", "output", "params", "MACs");
            foreach (var l in an.Layers)
            {
                var b = l.Block;
                bool conv = b != null && b.Kind != BlockKind.Skip;
                t.AddRow(Cli.Escape(l.Path), l.Kind, conv ? b!.Kernel.ToString() : (b?.Kind == BlockKind.Skip && l.Params > 0 ? "1" : ""),
                    b?.Kind == BlockKind.MBConv ? b.Expansion.ToString() : "", b?.Stride.ToString() ?? "",
                    b?.Se != null ? "yes" : "", l.Residual ? "yes" : "", l.OutShape, l.Params.ToString("N0"), l.Macs.ToString("N0"));
            }
            t.AddRow("total", "", "", "", "", "", "", "", an.Params.ToString("N0"), an.Macs.ToString("N0"));
            AnsiConsole.Write(t);
            return 0;
        }));
        return c;
    }

    static Command Write()
    {
        var arch = Cli.ArchArgument(); var input = Cli.InputOption(); var classes = Cli.ClassesOption();
        var output = new Option<string>("--out") { Description = "Where to write the canonical JSON (default: stdout)" };
        var c = new Command("write", "Validate an architecture and write its canonical JSON (zoo entries included)") { arch, input, classes, output };
        c.SetAction(r => Cli.Run(() =>
        {
            var a = Cli.ResolveArch(r.GetValue(arch)!, r.GetValue(input), r.GetValue(classes));
            string? o = r.GetValue(output);
            if (o == null) Console.Out.Write(ArchJson.Write(a));
            else ArchJson.Save(a, o);
            return 0;
        }));
        return c;
    }
}
