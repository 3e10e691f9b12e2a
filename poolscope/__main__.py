from poolscope.cli import main

main()
