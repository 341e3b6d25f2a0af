from supplychain.cli import main

main()
