package pgstore

// Exported for the tests of package pgstore_test (the multi-node tests,
// which import the whole project and so cannot live in package pgstore).

// RecordsTable names the records table of a table prefix.
func RecordsTable(prefix string) string { return newNames(prefix).records }

// DropTablesAtEnd drops the tables of a prefix when the test ends.
var DropTablesAtEnd = dropTablesAtEnd

// SQLConn opens a plain connection for inspecting or changing the database
// behind the nodes' backs.
var SQLConn = sqlConn
