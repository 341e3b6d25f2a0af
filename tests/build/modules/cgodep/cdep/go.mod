module example.com/cdep

go 1.22
