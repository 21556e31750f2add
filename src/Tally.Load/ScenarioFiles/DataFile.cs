namespace Tally.Load.ScenarioFiles;

/// <summary>
/// The rows a scenario draws its users from: a JSON array of objects (what <c>tally-load seed</c>
/// writes) or a CSV file whose first line names the fields. JSON numbers stay numbers; CSV
/// fields are strings.
/// </summary>
public sealed class DataFile
{
    private DataFile(List<string> columns, List<Value[]> rows)
    {
        Columns = columns;
        Rows = rows;
    }

    public IReadOnlyList<string> Columns { get; }
    internal List<Value[]> Rows { get; }

    public static DataFile Empty { get; } = new([], []);

    public static DataFile Load(string path) =>
        path.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) ? ParseCsv(File.ReadAllText(path), path) : ParseJson(File.ReadAllText(path), path);

    public static DataFile ParseJson(string text, string name)
    {
        using var doc = JsonDocument.Parse(text);
        if (doc.RootElement.ValueKind != JsonValueKind.Array)
        {
            throw new FormatException($"{name}: expected a JSON array of objects");
        }
        var columns = new List<string>();
        foreach (var row in doc.RootElement.EnumerateArray())
        {
            if (row.ValueKind != JsonValueKind.Object)
            {
                throw new FormatException($"{name}: expected a JSON array of objects, found a {row.ValueKind}");
            }
            foreach (var p in row.EnumerateObject())
            {
                if (!columns.Contains(p.Name))
                {
                    columns.Add(p.Name);
                }
            }
        }
        var rows = new List<Value[]>();
        var index = 0;
        foreach (var row in doc.RootElement.EnumerateArray())
        {
            var values = new Value[columns.Count];
            for (var c = 0; c < columns.Count; c++)
            {
                values[c] = row.TryGetProperty(columns[c], out var v) ? Value.FromJson(v)
                    : throw new FormatException($"{name}: row {index + 1} has no field '{columns[c]}'");
            }
            rows.Add(values);
            index++;
        }
        return new DataFile(columns, rows);
    }

    public static DataFile ParseCsv(string text, string name)
    {
        var records = CsvRecords(text).Where(r => r.Count > 1 || r[0].Length > 0).ToList();
        if (records.Count == 0)
        {
            throw new FormatException($"{name}: an empty CSV file (the first line names the fields)");
        }
        var columns = records[0].Select(c => c.Trim()).ToList();
        var rows = new List<Value[]>();
        for (var i = 1; i < records.Count; i++)
        {
            if (records[i].Count != columns.Count)
            {
                throw new FormatException($"{name}: line {i + 1} has {records[i].Count} fields, the header {columns.Count}");
            }
            rows.Add([.. records[i].Select(v => new Value(v, false))]);
        }
        return new DataFile(columns, rows);
    }

    /// <summary>RFC 4180: commas, double-quoted fields with "" for a quote, CRLF or LF line ends.</summary>
    private static IEnumerable<List<string>> CsvRecords(string text)
    {
        var record = new List<string>();
        var field = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < text.Length; i++)
        {
            var ch = text[i];
            if (quoted)
            {
                if (ch == '"' && i + 1 < text.Length && text[i + 1] == '"')
                {
                    field.Append('"');
                    i++;
                }
                else if (ch == '"')
                {
                    quoted = false;
                }
                else
                {
                    field.Append(ch);
                }
                continue;
            }
            switch (ch)
            {
                case '"':
                    quoted = true;
                    break;
                case ',':
                    record.Add(field.ToString());
                    field.Clear();
                    break;
                case '\r':
                    break;
                case '\n':
                    record.Add(field.ToString());
                    field.Clear();
                    yield return record;
                    record = [];
                    break;
                default:
                    field.Append(ch);
                    break;
            }
        }
        if (field.Length > 0 || record.Count > 0)
        {
            record.Add(field.ToString());
            yield return record;
        }
    }

    /// <summary>This data with the data setup's captures appended to every row as fields.</summary>
    internal DataFile WithColumns(IReadOnlyList<string> extra, Value[][] values) =>
        new([.. Columns, .. extra], [.. Rows.Select((r, i) => (Value[])[.. r, .. values[i]])]);
}
