package merge

// LiveDeleteFiles lists the delete files of a table's current snapshot.
var LiveDeleteFiles = liveDeleteFiles
