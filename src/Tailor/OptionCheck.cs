using System.Globalization;

namespace Tailor;

/// <summary>
/// The one-line refusals of numeric options, spelled the same everywhere ("--lr: expected > 0 (got NaN)").
/// The double checks refuse NaN and infinity too: a NaN rate passes "&lt;= 0" and poisons every step.
/// </summary>
public static class OptionCheck
{
    public static void AtLeast(string option, int value, int min)
    {
        if (value < min) throw new TailorException($"{option}: expected >= {min} (got {value})");
    }

    public static void Positive(string option, double value)
    {
        if (!(value > 0) || double.IsInfinity(value)) throw new TailorException($"{option}: expected > 0 (got {Show(value)})");
    }

    public static void NonNegative(string option, double value)
    {
        if (!(value >= 0) || double.IsInfinity(value)) throw new TailorException($"{option}: expected >= 0 (got {Show(value)})");
    }

    static string Show(double v) => v.ToString(CultureInfo.InvariantCulture);
}
