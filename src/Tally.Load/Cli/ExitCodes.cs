namespace Tally.Load.Cli;

/// <summary>The documented exit codes of tally-load.</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    public const int Failure = 1;
    public const int Usage = 2;
    public const int SloBreached = 3;
    public const int Aborted = 4;
    public const int AuditFailed = 5;
}
