using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;

namespace Tailor.Search.Donna;

public enum JobStatus { Pending, Running, Done, Failed }

/// <summary>One job of the experiment: teacher training, feature caching, one (block, candidate) BKD, one library architecture, a search, a finetune.</summary>
public sealed record JobRecord(string Key, string Kind, int? Block, int? Candidate, JobStatus Status, string? Owner, int Attempts,
    string? Started, string? Finished, double? Seconds, string? Error, JsonObject? Result)
{
    public string Describe() => Kind == "bkd" ? $"block {Block} candidate {Candidate}" : Key;
}

/// <summary>
/// The experiment store: one SQLite file (experiment.db in the experiment folder) with the
/// experiment's configuration and every job with its status, owner, error and result. Several
/// processes may work through the same queue: a job is claimed in a write transaction, so only
/// one process runs it; a job whose owner process is gone (killed) is claimed again and restarts
/// cleanly, since job outputs are written atomically and recorded only on completion. A store
/// that is not a database, or not a DONNA store, is reported and left untouched.
/// </summary>
public sealed class ExperimentStore : IDisposable
{
    public const string FileName = "experiment.db";
    public const string Format = "tailor-donna";
    public const int Version = 1;

    readonly SqliteConnection _db;
    public string Path { get; }
    public string Dir { get; }

    /// <summary>This process as a job owner: host, pid and process start time (so a reused pid is not mistaken for the owner).</summary>
    public static string SelfOwner { get; } = OwnerOf(Environment.ProcessId);

    ExperimentStore(string path, SqliteConnection db)
    {
        Path = path; Dir = System.IO.Path.GetDirectoryName(path)!; _db = db;
    }

    static string OwnerOf(int pid)
    {
        string start = "?";
        try { start = File.ReadAllText($"/proc/{pid}/stat").Split(')').Last().Split(' ', StringSplitOptions.RemoveEmptyEntries)[19]; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or IndexOutOfRangeException) { }
        return $"{Environment.MachineName}:{pid}:{start}";
    }

    /// <summary>Whether the process that owns a job is still running (on this host; owners on other hosts are assumed alive).</summary>
    public static bool OwnerAlive(string? owner)
    {
        if (owner == null) return false;
        var p = owner.Split(':');
        if (p.Length != 3 || !int.TryParse(p[1], out int pid)) return false;
        if (p[0] != Environment.MachineName) return true;
        if (!Directory.Exists($"/proc/{pid}")) return false;
        return OwnerOf(pid) == owner;
    }

    public static bool Exists(string dir) => File.Exists(System.IO.Path.Combine(dir, FileName));

    /// <summary>Opens the store in <paramref name="dir"/>; creates it when <paramref name="create"/> and absent.</summary>
    public static ExperimentStore Open(string dir, bool create)
    {
        string path = System.IO.Path.GetFullPath(System.IO.Path.Combine(dir, FileName));
        bool exists = File.Exists(path);
        if (!exists && !create)
            throw new TailorException($"--experiment {dir}: no experiment store ({FileName}) found; create the experiment with tailor search donna --out {dir}");
        if (!exists)
        {
            try { Directory.CreateDirectory(dir); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            { throw new TailorException($"{dir}: cannot create the experiment directory ({e.Message.Split('\n')[0]})"); }
        }
        var cs = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false, DefaultTimeout = 30 }.ToString();
        var db = new SqliteConnection(cs);
        try
        {
            db.Open();
            var store = new ExperimentStore(path, db);
            store.Exec("PRAGMA busy_timeout = 30000");
            if (exists)
            {
                string check = Convert.ToString(store.Scalar("PRAGMA quick_check"), CultureInfo.InvariantCulture) ?? "";
                if (check != "ok") throw new TailorException($"{path}: corrupt experiment store (integrity check: {check.Split('\n')[0]}); it was left as it is");
                var tables = store.Strings("SELECT name FROM sqlite_master WHERE type = 'table'");
                if (!tables.Contains("meta") || !tables.Contains("jobs"))
                    throw new TailorException($"{path}: not a DONNA experiment store (tables meta and jobs missing); it was left as it is");
                string? fmt = store.GetMeta("format");
                if (fmt != Format) throw new TailorException($"{path}: not a DONNA experiment store (format '{fmt}'); it was left as it is");
                if (store.GetMeta("version") != Version.ToString(CultureInfo.InvariantCulture))
                    throw new TailorException($"{path}: experiment store version {store.GetMeta("version")} is not supported (expected {Version})");
            }
            store.Exec("PRAGMA journal_mode = WAL");
            if (!exists)
            {
                store.Exec("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
                store.Exec("CREATE TABLE jobs (key TEXT PRIMARY KEY, kind TEXT NOT NULL, block INTEGER, candidate INTEGER, status TEXT NOT NULL, " +
                           "owner TEXT, attempts INTEGER NOT NULL DEFAULT 0, started TEXT, finished TEXT, seconds REAL, error TEXT, result TEXT)");
                store.SetMeta("format", Format);
                store.SetMeta("version", Version.ToString(CultureInfo.InvariantCulture));
            }
            return store;
        }
        catch (Exception e) when (e is SqliteException || e.InnerException is SqliteException)
        {
            var inner = e as SqliteException ?? (SqliteException)e.InnerException!;
            db.Dispose();
            throw new TailorException($"{path}: corrupt experiment store ({inner.Message.Split('\n')[0].Replace("SQLite Error ", "SQLite error ")}); it was left as it is");
        }
        catch
        {
            db.Dispose();
            throw;
        }
    }

    SqliteCommand Cmd(string sql, params (string, object?)[] args)
    {
        var c = _db.CreateCommand();
        c.CommandText = sql;
        foreach (var (n, v) in args) c.Parameters.AddWithValue(n, v ?? DBNull.Value);
        return c;
    }

    T Wrap<T>(Func<T> f)
    {
        try { return f(); }
        catch (SqliteException e) { throw new TailorException($"{Path}: experiment store error ({e.Message.Split('\n')[0]})", e); }
    }

    void Exec(string sql, params (string, object?)[] args) => Wrap(() => { using var c = Cmd(sql, args); return c.ExecuteNonQuery(); });
    object? Scalar(string sql, params (string, object?)[] args) => Wrap(() => { using var c = Cmd(sql, args); return c.ExecuteScalar(); });
    HashSet<string> Strings(string sql) => Wrap(() =>
    {
        using var c = Cmd(sql);
        using var r = c.ExecuteReader();
        var s = new HashSet<string>();
        while (r.Read()) s.Add(r.GetString(0));
        return s;
    });

    public string? GetMeta(string key) => Scalar("SELECT value FROM meta WHERE key = $k", ("$k", key)) as string;
    public void SetMeta(string key, string value) => Exec("INSERT INTO meta(key, value) VALUES($k, $v) ON CONFLICT(key) DO UPDATE SET value = excluded.value", ("$k", key), ("$v", value));

    /// <summary>Adds a job unless it exists (existing jobs keep their status).</summary>
    public void Ensure(string key, string kind, int? block = null, int? candidate = null) =>
        Exec("INSERT OR IGNORE INTO jobs(key, kind, block, candidate, status) VALUES($k, $kind, $b, $c, 'pending')",
            ("$k", key), ("$kind", kind), ("$b", block), ("$c", candidate));

    static JobRecord Read(SqliteDataReader r)
    {
        JsonObject? res = null;
        if (!r.IsDBNull(11))
        {
            try { res = JsonNode.Parse(r.GetString(11)) as JsonObject; }
            catch (System.Text.Json.JsonException) { res = null; }
        }
        return new JobRecord(r.GetString(0), r.GetString(1), r.IsDBNull(2) ? null : r.GetInt32(2), r.IsDBNull(3) ? null : r.GetInt32(3),
            Enum.Parse<JobStatus>(r.GetString(4), ignoreCase: true), r.IsDBNull(5) ? null : r.GetString(5), r.GetInt32(6),
            r.IsDBNull(7) ? null : r.GetString(7), r.IsDBNull(8) ? null : r.GetString(8), r.IsDBNull(9) ? null : r.GetDouble(9),
            r.IsDBNull(10) ? null : r.GetString(10), res);
    }

    const string Columns = "key, kind, block, candidate, status, owner, attempts, started, finished, seconds, error, result";

    public JobRecord? Get(string key) => Wrap(() =>
    {
        using var c = Cmd($"SELECT {Columns} FROM jobs WHERE key = $k", ("$k", key));
        using var r = c.ExecuteReader();
        return r.Read() ? Read(r) : null;
    });

    public List<JobRecord> Jobs(string? kind = null) => Wrap(() =>
    {
        using var c = kind == null ? Cmd($"SELECT {Columns} FROM jobs ORDER BY rowid") : Cmd($"SELECT {Columns} FROM jobs WHERE kind = $kind ORDER BY rowid", ("$kind", kind));
        using var r = c.ExecuteReader();
        var list = new List<JobRecord>();
        while (r.Read()) list.Add(Read(r));
        return list;
    });

    /// <summary>
    /// Claims a job for this process: true when it was pending, failed (only with <paramref name="retryFailed"/>) or
    /// running under a dead owner (a killed run), false when it is done or another live process runs it.
    /// </summary>
    public bool TryClaim(string key, bool retryFailed = false) => Wrap(() =>
    {
        using var tx = _db.BeginTransaction(deferred: false);
        JobRecord? j;
        using (var c = Cmd($"SELECT {Columns} FROM jobs WHERE key = $k", ("$k", key)))
        {
            c.Transaction = tx;
            using var r = c.ExecuteReader();
            j = r.Read() ? Read(r) : null;
        }
        if (j == null) throw new TailorException($"{Path}: no job '{key}' in the experiment");
        bool free = j.Status switch
        {
            JobStatus.Pending => true,
            JobStatus.Failed => retryFailed,
            JobStatus.Running => j.Owner != SelfOwner && !OwnerAlive(j.Owner),
            _ => false,
        };
        if (!free) { tx.Rollback(); return false; }
        using (var u = Cmd("UPDATE jobs SET status = 'running', owner = $o, attempts = attempts + 1, started = $t, error = NULL WHERE key = $k",
            ("$o", SelfOwner), ("$t", Now()), ("$k", key)))
        {
            u.Transaction = tx;
            u.ExecuteNonQuery();
        }
        tx.Commit();
        return true;
    });

    public void Complete(string key, JsonObject result, double seconds) =>
        Exec("UPDATE jobs SET status = 'done', finished = $t, seconds = $s, result = $r, error = NULL WHERE key = $k",
            ("$t", Now()), ("$s", seconds), ("$r", result.ToJsonString(DonnaConfig.Compact)), ("$k", key));

    public void Fail(string key, string error, double seconds) =>
        Exec("UPDATE jobs SET status = 'failed', finished = $t, seconds = $s, error = $e WHERE key = $k",
            ("$t", Now()), ("$s", seconds), ("$e", error), ("$k", key));

    /// <summary>Hands a claimed job back (pending) when this process stops before finishing it (e.g. Ctrl+C).</summary>
    public void Release(string key) => Exec("UPDATE jobs SET status = 'pending', owner = NULL WHERE key = $k AND owner = $o", ("$k", key), ("$o", SelfOwner));

    /// <summary>Runs one job under the store's protocol: claim, run, record the result or the failure. Returns the record, or null when another process holds it.</summary>
    public JobRecord? RunJob(string key, Func<JsonObject> body, bool retryFailed = false, bool rethrowUserErrors = true)
    {
        var existing = Get(key);
        if (existing?.Status == JobStatus.Done) return existing;
        if (!TryClaim(key, retryFailed)) return Get(key) is { Status: JobStatus.Done or JobStatus.Failed } j ? j : null;
        var sw = Stopwatch.StartNew();
        try
        {
            var result = body();
            Complete(key, result, sw.Elapsed.TotalSeconds);
        }
        catch (JobFailedException e)
        {
            Fail(key, e.Message, sw.Elapsed.TotalSeconds);
        }
        catch (TailorException e) when (!rethrowUserErrors)
        {
            Fail(key, e.Message, sw.Elapsed.TotalSeconds);
        }
        catch
        {
            Release(key);
            throw;
        }
        return Get(key);
    }

    static string Now() => DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);

    public void Dispose() => _db.Dispose();
}

/// <summary>A job that ran and failed in a way that is the job's own result (e.g. the loss diverged): recorded as failed, with this message.</summary>
public sealed class JobFailedException(string message) : Exception(message);
