using System.Globalization;
using System.Text;

namespace Tailor.Training;

/// <summary>One epoch's numbers. Accuracies are fractions in [0, 1]; validation is null without a validation split.</summary>
public sealed record EpochMetrics(int Epoch, double Lr, double TrainLoss, double TrainAcc, double? ValLoss, double? ValAcc,
    double ImagesPerSecond, double Seconds);

/// <summary>Loss and accuracy of a model on a loader (eval mode, no gradients).</summary>
public sealed record EvalResult(double Loss, double Accuracy, int Count, int Correct);

/// <summary>metrics.csv: one row per epoch.</summary>
public static class MetricsCsv
{
    public const string Header = "epoch,lr,train_loss,train_acc,val_loss,val_acc,images_per_s,seconds";

    public static string Format(IEnumerable<EpochMetrics> rows)
    {
        var sb = new StringBuilder(Header).Append('\n');
        foreach (var m in rows)
            sb.Append(string.Join(",", m.Epoch.ToString(CultureInfo.InvariantCulture), F(m.Lr), F(m.TrainLoss), F(m.TrainAcc),
                m.ValLoss is double vl ? F(vl) : "", m.ValAcc is double va ? F(va) : "",
                m.ImagesPerSecond.ToString("F1", CultureInfo.InvariantCulture), m.Seconds.ToString("F3", CultureInfo.InvariantCulture))).Append('\n');
        return sb.ToString();
    }

    static string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    public static void Write(string path, IEnumerable<EpochMetrics> rows) => WriteText(path, Format(rows));

    /// <summary>UTF-8 text written atomically. Goes through bytes because AtomicFile.WriteAllText on this
    /// branch's base closes the temp file before its fsync (fixed on main by c14337f).</summary>
    internal static void WriteText(string path, string text) => Util.AtomicFile.WriteAllBytes(path, System.Text.Encoding.UTF8.GetBytes(text));
}
