-- Checks that the Neovim setup docs/editors.md shows (readme-snippet.lua) works as documented: load it like an
-- init.lua would, open a file, then :PlanfirstGenerate, :PlanfirstRevise, :PlanfirstApprove,
-- :PlanfirstExecute and :PlanfirstUndo.
-- Environment: SNIPPET, PLANFIRST_CMD (JSON array), PLANFIRST_TASK, PLANFIRST_FEEDBACK, NVIM_RESULT.
vim.g.planfirst_cmd = vim.fn.json_decode((assert(os.getenv('PLANFIRST_CMD'))))
vim.cmd('luafile ' .. vim.fn.fnameescape((assert(os.getenv('SNIPPET')))))
local notes = {}
local notify = vim.notify
vim.notify = function(msg, level, opts)
  table.insert(notes, msg)
  return notify(msg, level, opts)
end
-- the user answers planfirst's own preview (Neovim shows no preview of its own): Neovim 0.7 asks
-- window/showMessageRequest with inputlist(); choice 1 is "Apply step N"
local questions = {}
vim.fn.inputlist = function(items)
  table.insert(questions, items[1])
  return 1
end
vim.api.nvim_create_autocmd('VimEnter', { once = true, callback = function()
  local result = { notes = notes }
  local ok, err = pcall(function()
    local get = vim.lsp.get_clients or vim.lsp.get_active_clients
    local function client()
      for _, c in ipairs(get()) do if c.name == 'planfirst' then return c end end
    end
    -- the snippet's BufReadPost autocmd was defined after this file was read: fire it once
    vim.cmd('doautocmd BufReadPost')
    assert(vim.wait(30000, function() local c = client(); return c and c.initialized end, 50), 'no planfirst client')
    vim.cmd('PlanfirstGenerate ' .. os.getenv('PLANFIRST_TASK'))
    assert(vim.wait(120000, function() return vim.api.nvim_buf_get_name(0):match('%.md$') ~= nil end, 100),
      ':PlanfirstGenerate did not open the plan')
    result.plan_file = vim.api.nvim_buf_get_name(0)
    local function read(path)
      local f = io.open(path, 'rb')
      if not f then return '' end
      local t = f:read('*a')
      f:close()
      return t
    end
    vim.cmd('PlanfirstRevise ' .. os.getenv('PLANFIRST_FEEDBACK'))
    assert(vim.wait(60000, function() return read(result.plan_file):match('revision=2') ~= nil end, 100),
      ':PlanfirstRevise did not write revision 2')
    result.revised_text = read(result.plan_file)
    vim.cmd('PlanfirstApprove')
    assert(vim.wait(30000, function()
      for _, n in ipairs(notes) do if n:match('plan approved') then return true end end
    end, 50), ':PlanfirstApprove did not approve')
    vim.cmd('PlanfirstExecute')
    assert(vim.wait(120000, function()
      for _, n in ipairs(notes) do if n:match('^planfirst: step 1 done') then return true end end
    end, 100), ':PlanfirstExecute did not finish step 1')
    result.step1_on_disk = read('textkit/wordcount.py')
    vim.cmd('PlanfirstUndo')
    assert(vim.wait(30000, function()
      for _, n in ipairs(notes) do if n:match('^planfirst: step 1 undone') then return true end end
    end, 100), ':PlanfirstUndo did not undo step 1')
  end)
  if not ok then result.error = tostring(err) end
  local f = io.open(os.getenv('NVIM_RESULT'), 'w')
  f:write(vim.fn.json_encode(result))
  f:close()
  vim.cmd(ok and 'qall!' or 'cquit! 1')
end })
