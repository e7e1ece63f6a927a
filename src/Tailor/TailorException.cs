namespace Tailor;

/// <summary>
/// A user-facing error: bad input, a missing file, an impossible request. The CLI prints its
/// message as one line and exits non-zero; it never carries a stack trace to the user.
/// </summary>
public class TailorException : Exception
{
    public TailorException(string message) : base(message) { }
    public TailorException(string message, Exception inner) : base(message, inner) { }
}
