module ringreference

go 1.19
