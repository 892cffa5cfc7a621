// Validates Adaptive Cards with Microsoft's own renderer (npm adaptivecards), in plain node.
// Reads a JSON array of cards on stdin; prints a JSON array with the problems of each card.
const AC = require('../../node_modules/adaptivecards/dist/adaptivecards.js');

let input = '';
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const results = JSON.parse(input).map((json) => {
    const context = new AC.SerializationContext();
    const card = new AC.AdaptiveCard();
    card.parse(json, context);
    const problems = [];
    for (let i = 0; i < context.eventCount; i++) problems.push(context.getEventAt(i).message);
    for (const event of card.validateProperties().validationEvents) problems.push(event.message);
    return problems;
  });
  process.stdout.write(JSON.stringify(results));
});
